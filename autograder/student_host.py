"""Inside the sandbox: load one student's exercise code and answer the grader's requests about it.

Started (in a bubblewrap sandbox, see :mod:`autograder.sandbox`) as
``python -m autograder.student_host SETUP CODE MEMORY_MB FILE_MB CPU_S NPROC``. Before any student code
runs it sets hard resource limits, moves the request channel off stdin/stdout (the student's prints go to
stderr), runs the course's setup cells and then the student's solution cells in one module, and sends a
hello (loaded, or why not). Then it serves requests until the grader hangs up.

Nothing here is trusted: student code can rewrite this process at will. All it can gain is to answer the
grader's questions wrongly, which is what a wrong solution does too; the grader's assertions, the tests
and the score live in another process that never runs student code (:mod:`autograder.worker`).
"""
from __future__ import annotations

import asyncio
import importlib
import os
import re
import resource
import sys
import traceback
import types

from autograder.remote import Peer, RemoteError, builtin_exception, describe_signature, send_frame

STUDENT_MODULE = "student_submission"
_CELL_MARK = re.compile(r"^# --- cell: (\S+) ---$")


def cell_location(code_lines: list[str], lineno: int) -> str:
    """'cell block_manager, line 7' for a line of the extracted module."""
    cell, start = "setup", 0
    for i, line in enumerate(code_lines[:lineno], start=1):
        m = _CELL_MARK.match(line)
        if m:
            cell, start = m.group(1), i
    return f"cell {cell}, line {lineno - start}"


def _missing_name(name: str):
    raise AttributeError(f"your code does not define {name!r} (check the spelling, and that the exercise "
                         "cell defines it at top level)")


class SandboxPeer(Peer):
    """The student's side: the grader may do anything with the student's objects."""

    side = "sandbox"
    serve_on_main = True

    def __init__(self, rfd: int, wfd: int, code_path: str, code_lines: list[str]) -> None:
        super().__init__(rfd, wfd, limit=1 << 30)
        self.code_path, self.code_lines = code_path, code_lines
        self.module: types.ModuleType | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def error_location(self, exc: BaseException) -> str:
        where = ""
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == self.code_path:
                where = f"{frame.f_code.co_name}(), {cell_location(self.code_lines, lineno)}"
        return where

    def make_error(self, err: dict) -> BaseException:
        # An exception from one of the grader's callables (a fake backend raising ConnectionError, ...).
        name = str(err.get("type", "Exception"))
        klass = builtin_exception(name)
        if klass is None:
            klass = type(name if name.isidentifier() else "GraderError", (Exception,), {})
        try:
            return klass(str(err.get("msg", "")))
        except Exception:  # noqa: BLE001
            return RuntimeError(str(err.get("msg", "")))

    def perform(self, op, obj, name, args, kwargs):
        if op == "module":
            return self.module
        if op == "functions":           # the module's top-level functions (see student_proxy.ModuleFunction)
            return [n for n, v in vars(self.module).items() if type(v) is types.FunctionType and not n.startswith("__")]
        if op == "import":
            return importlib.import_module(name)
        if op == "setattr":
            setattr(obj, name, args[0])
            return None
        if op == "delattr":
            delattr(obj, name)
            return None
        if op == "iter":
            return iter(obj)
        if op == "truth":
            return bool(obj)
        if op == "isinstance":
            return isinstance(args[0], obj)
        if op == "issubclass":
            return isinstance(args[0], type) and issubclass(args[0], obj)
        if op == "dir":
            return [str(n) for n in dir(obj)]
        if op == "signature":
            return describe_signature(obj)
        if op == "await":
            return self.loop().run_until_complete(_awaited(obj))
        if op == "aiter":
            return obj.__aiter__()
        if op == "anext":
            return self.loop().run_until_complete(_awaited(obj.__anext__()))
        return super().perform(op, obj, name, args, kwargs)

    def hello(self, **data) -> None:
        send_frame(self.wfd, {"hello": True, **data})


async def _awaited(awaitable):
    return await awaitable


def apply_limits(memory_mb: int, file_mb: int, cpu_s: int, nproc: int) -> None:
    def hard(which, value):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    hard(resource.RLIMIT_AS, memory_mb << 20)
    hard(resource.RLIMIT_CORE, 0)
    hard(resource.RLIMIT_FSIZE, file_mb << 20)
    hard(resource.RLIMIT_CPU, cpu_s)
    hard(resource.RLIMIT_NPROC, nproc)
    hard(resource.RLIMIT_NOFILE, 1024)


def load(peer: SandboxPeer, setup_path: str, code_path: str) -> str | None:
    """Run the setup cells, then the student's cells, in one module. A load error message, or None."""
    peer.module, problem = load_module(setup_path, code_path, peer)
    return problem


def load_module(setup_path: str, code_path: str, peer: SandboxPeer | None = None):
    """(the module, None) or (None, why it could not be loaded)."""
    if peer is None:
        with open(code_path, encoding="utf-8") as fh:
            peer = SandboxPeer(-1, -1, code_path, fh.read().splitlines())
    module = types.ModuleType(STUDENT_MODULE)
    module.__file__ = code_path
    sys.modules[STUDENT_MODULE] = module
    if setup_path != "-":
        with open(setup_path, encoding="utf-8") as fh:
            setup = fh.read()
        try:
            exec(compile(setup, setup_path, "exec"), module.__dict__)
        except BaseException as exc:  # noqa: BLE001
            return None, (f"the course's setup cells failed with {type(exc).__name__}: {str(exc)[:300]} "
                          "(not your code: tell your instructor)")
    try:
        code = compile("\n".join(peer.code_lines) + "\n", code_path, "exec")
    except SyntaxError as exc:
        return None, f"SyntaxError in {cell_location(peer.code_lines, exc.lineno or 0)}: {exc.msg}"
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - anything the student's top level raises
        if isinstance(exc, NotImplementedError):
            return None, "not implemented yet (the code raises NotImplementedError when it is loaded)"
        where = peer.error_location(exc)
        text = f"{type(exc).__name__}: {str(exc)[:300]}" + (f" (in {where})" if where else "")
        return None, f"your code raised {text} when it was loaded"
    module.__dict__.setdefault("__getattr__", _missing_name)
    return module, None


def main() -> None:
    setup_path, code_path = sys.argv[1], sys.argv[2]
    memory_mb, file_mb, cpu_s, nproc = (int(x) for x in sys.argv[3:7])
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    apply_limits(memory_mb, file_mb, cpu_s, nproc)
    with open(code_path, encoding="utf-8") as fh:
        code_lines = fh.read().splitlines()
    peer = SandboxPeer(rfd, wfd, code_path, code_lines)
    problem = load(peer, setup_path, code_path)
    peer.hello(loaded=problem is None, load_error=problem)
    peer.start()
    try:
        peer.pump()
    except RemoteError:
        pass
    finally:
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
