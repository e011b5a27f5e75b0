"""The grader's side of the trust boundary: start the student's sandbox and talk to it through handles.

``StudentProcess`` starts :mod:`autograder.student_host` inside the sandbox (or, with ``--no-sandbox``,
as a plain child process, and says so) and returns the student's module as a :class:`~autograder.remote.Proxy`.
The hidden grader uses it like the module itself (``student.BlockManager(8, 4)``), but every call crosses
a pipe; results come back as plain data or handles; exceptions as :class:`~autograder.remote.StudentError`.

``student.__sandbox__`` is the sandbox itself, for graders that need objects built *next to* the
student's code: ``sandbox.import_module("torch").nn.Linear(8, 4)`` makes a layer inside the sandbox that
the student's function may then modify in place; ``sandbox.socket_path("app.sock")`` is where a server
started inside the sandbox on a unix socket can be reached from the grader.
"""
from __future__ import annotations

import importlib
import os
import select
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

from . import sandbox
from .remote import MAX_FRAME, Peer, Proxy, RemoteError, StudentError, builtin_exception, recv_frame

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Library exception classes a student exception may be mirrored as (so ``pytest.raises(jwt.InvalidTokenError)``
#: keeps working); anything else becomes its nearest builtin base.
LIBRARY_EXCEPTIONS = ("jwt.", "json.", "asyncio.", "concurrent.futures.", "queue.", "fastapi.", "starlette.",
                      "pydantic.", "pydantic_core.", "httpx.", "redis.", "openai.", "labkit.", "socket.")
_PUBLIC_DUNDERS = {"__len__", "__getitem__", "__contains__", "__next__", "__repr__", "__str__", "__format__",
                   "__iter__", "__bool__", "__int__", "__float__", "__index__", "__enter__", "__exit__"}
OUTPUT_KEEP_BYTES = 20_000


class GraderPeer(Peer):
    """The grader's side: the student may only call what it is given and read public attributes."""

    side = "grader"

    def __init__(self, rfd: int, wfd: int) -> None:
        super().__init__(rfd, wfd, limit=MAX_FRAME)
        self.mirrors: dict[int, type] = {}          # sandbox exception class handle -> local mirror class
        self.named: dict[tuple, type] = {}

    # -- what the sandbox's handles become here -------------------------------------------------
    def make_proxy(self, info: dict):
        if info.get("k") == "exc":
            return self.mirror(info)
        return super().make_proxy(info)

    def encode(self, value, depth: int = 0):
        remote_id = getattr(value, "_remote_class_id", None) if isinstance(value, type) else None
        if remote_id is not None and self.mirrors.get(remote_id) is value:
            return {"$mine": remote_id}
        return super().encode(value, depth)

    def mirror(self, info: dict) -> type:
        key = info["$h"]
        if key not in self.mirrors:
            name = str(info.get("t", "StudentException")).rsplit(".", 1)[-1]
            base = self.base_for([str(m) for m in info.get("mro", [])], name)
            self.mirrors[key] = self._make_class(name if name.isidentifier() else "StudentException", base, key)
        return self.mirrors[key]

    def _make_class(self, name: str, base: type, remote_id: int | None) -> type:
        try:
            klass = type(name, (StudentError, base), {"_remote_class_id": remote_id, "__module__": "student_submission"})
        except TypeError:   # a final library class (pydantic's ValidationError): its nearest builtin base
            builtin = next((k for k in base.__mro__ if k.__module__ == "builtins" and issubclass(k, Exception)), Exception)
            klass = type(name, (StudentError, builtin), {"_remote_class_id": remote_id})
        klass.__getattr__ = _forward_attribute
        return klass

    @staticmethod
    def base_for(mro: list[str], name: str) -> type:
        for qual in mro:
            module, _, attr = qual.rpartition(".")
            if module == "builtins":
                klass = builtin_exception(attr)
                if klass is not None:
                    return klass
            elif qual.startswith(LIBRARY_EXCEPTIONS) and "<" not in qual:
                klass = _resolve(module, attr)
                if isinstance(klass, type) and issubclass(klass, Exception):
                    return klass
        return Exception

    def make_error(self, err: dict) -> BaseException:
        mro = [str(m) for m in err.get("mro", [])]
        name = str(err.get("type", "Exception"))
        cls_info = err.get("cls") or {}
        base = self.base_for(mro, name)
        if mro and mro[0].startswith("builtins.") or cls_info.get("$h") is None:
            key = (name, base)
            if key not in self.named:
                self.named[key] = self._make_class(name if name.isidentifier() else "StudentException", base, None)
            klass = self.named[key]
        else:
            klass = self.mirrors.get(cls_info["$h"])
            if klass is None:
                klass = self._make_class(name if name.isidentifier() else "StudentException", base, cls_info["$h"])
                self.mirrors[cls_info["$h"]] = klass
        try:
            args = self.decode(err.get("args")) if err.get("args") is not None else (str(err.get("msg", "")),)
        except RemoteError:
            args = (str(err.get("msg", "")),)
        try:
            builtin = next(k for k in klass.__mro__ if k.__module__ == "builtins" and issubclass(k, BaseException))
            exc = builtin.__new__(klass)          # OSError and its family need their own __new__
            exc.args = tuple(args)
        except Exception:  # noqa: BLE001 - a library base with a strict constructor (pydantic's ValidationError)
            builtin = next((k for k in base.__mro__ if k.__module__ == "builtins" and issubclass(k, Exception)),
                           Exception)
            klass = self._make_class(klass.__name__, builtin, None)
            exc = BaseException.__new__(klass)
            exc.args = tuple(args)
        exc.remote_type = name
        exc.where = str(err.get("where", ""))
        exc.message_text = str(err.get("msg", ""))
        if isinstance(err.get("obj"), dict) and "$h" in err["obj"]:
            exc.remote = self.proxy_for(err["obj"])
        return exc

    # -- what the sandbox may do with the grader's objects -----------------------------------------
    def perform(self, op, obj, name, args, kwargs):
        if op == "call":
            if not callable(obj):
                raise TypeError("not callable")
            return _checked(obj(*args, **kwargs))
        if op == "getattr":
            if name.startswith("_"):
                raise AttributeError(f"{name!r}: private attributes of the grader's objects are not accessible")
            return _checked(getattr(obj, name))
        if op == "method":
            if name not in _PUBLIC_DUNDERS:
                raise AttributeError(f"{name!r} is not available on the grader's objects")
            return _checked(getattr(obj, name)(*args, **kwargs))
        if op == "iter":
            return iter(obj)
        if op == "truth":
            return bool(obj)
        if op == "isinstance":
            return False
        if op == "dir":
            return [n for n in dir(obj) if not n.startswith("_")]
        if op == "await":
            return _run_in_thread(obj)
        if op == "anext":
            return _run_in_thread(obj.__anext__())
        if op == "aiter":
            return obj.__aiter__()
        if op in ("setattr", "delattr"):
            raise AttributeError("the grader's objects are read-only")
        raise AttributeError(f"operation {op!r} is not available on the grader's objects")


def _checked(value):
    """What the sandbox may receive from the grader's objects: no modules, no code objects, no frames."""
    if isinstance(value, (types.ModuleType, types.FrameType, types.CodeType, types.TracebackType)):
        raise AttributeError("that attribute is not accessible from a submission")
    if isinstance(value, types.BuiltinFunctionType) and isinstance(getattr(value, "__self__", None), types.ModuleType):
        raise AttributeError("that attribute is not accessible from a submission")   # e.g. os.system
    return value


def _run_in_thread(awaitable):
    import asyncio
    box: dict = {}

    def run():
        try:
            box["value"] = asyncio.run(_await(awaitable))
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _await(awaitable):
    return await awaitable


def _forward_attribute(self, name):
    remote = self.__dict__.get("remote")
    if remote is not None and not name.startswith("__"):
        return getattr(remote, name)
    raise AttributeError(name)


def _resolve(module: str, attr: str):
    mod = sys.modules.get(module)
    if mod is None:
        try:
            mod = importlib.import_module(module)
        except Exception:  # noqa: BLE001
            return None
    obj = mod
    for part in attr.split("."):
        obj = getattr(obj, part, None)
    return obj


# -------------------------------------------------------------------------------------- the process
class SandboxHandle:
    """``student.__sandbox__``: build objects inside the sandbox, reach its unix sockets."""

    def __init__(self, process: "StudentProcess") -> None:
        self._process = process

    def import_module(self, name: str):
        return self._process.peer.request("import", name=name)

    @property
    def helpers(self):
        """:mod:`autograder.sandbox_helpers`, imported inside the sandbox (serve_app, concurrently, run_async, ...)."""
        return self.import_module("autograder.sandbox_helpers")

    def inside_tmp(self, name: str) -> str:
        """``/tmp/<name>`` as the sandbox sees it (pass this to code running in the sandbox)."""
        return f"/tmp/{name}"

    def socket_path(self, name: str) -> str:
        """The grader-side path of ``/tmp/<name>`` inside the sandbox (for a server on a unix socket)."""
        return self._process.inside_path(f"/tmp/{name}")


class StudentModule(Proxy):
    """The student's module (a handle) with ``__sandbox__`` answered here, and its top-level functions as
    :class:`ModuleFunction` (one round trip per call instead of two)."""

    __slots__ = ("_process", "_functions")

    def __getattr__(self, name):
        if name == "__sandbox__":
            return SandboxHandle(object.__getattribute__(self, "_process"))
        try:
            functions = object.__getattribute__(self, "_functions")
        except AttributeError:
            functions = {}
        if name in functions:
            if functions[name] is None:
                functions[name] = ModuleFunction(self, name)
            return functions[name]
        return Proxy.__getattr__(self, name)

    def __setattr__(self, name, value):
        self._rebinding(name)
        Proxy.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._rebinding(name)
        Proxy.__delattr__(self, name)

    def _rebinding(self, name: str) -> None:
        """The grader rebinds ``name`` (``real = student.f; student.f = wrapper``): a ModuleFunction handed out
        for it keeps the function it named (fetched now), and ``name`` is looked up plainly from now on."""
        try:
            functions = object.__getattribute__(self, "_functions")
        except AttributeError:
            return
        held = functions.pop(name, None)
        if held is not None:
            held._resolved()


class ModuleFunction(Proxy):
    """``student.<name>`` for a function at the top level of the student's module. Calling it is one round
    trip: the sandbox looks ``<name>`` up in the module and calls what it finds, which is what
    ``student.<name>(...)`` does in one process. Anything else (its signature, its repr, passing it to the
    sandbox), and the grader rebinding ``student.<name>`` (see :meth:`StudentModule._rebinding`), first fetches
    the function's own handle, which it uses from then on. (A rebinding made by code inside the sandbox is
    seen by the next call, as by a fresh ``student.<name>(...)``.)"""

    __slots__ = ("_module", "_name", "_target")

    def __init__(self, module: StudentModule, name: str) -> None:
        object.__setattr__(self, "_peer", object.__getattribute__(module, "_peer"))
        object.__setattr__(self, "_kind", "call")
        object.__setattr__(self, "_type", "builtins.function")
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_target", None)

    def _resolved(self) -> Proxy:
        target = object.__getattribute__(self, "_target")
        if target is None:
            target = Proxy.__getattr__(object.__getattribute__(self, "_module"), object.__getattribute__(self, "_name"))
            object.__setattr__(self, "_target", target)
        return target

    @property
    def _id(self):                      # the handle the sandbox knows (when it is passed back to it)
        return object.__getattribute__(self._resolved(), "_id")

    def _call(self, op: str, name: str = "", *args, **kwargs):
        if op == "call" and object.__getattribute__(self, "_target") is None:
            module = object.__getattribute__(self, "_module")
            return Proxy._call(module, "method", object.__getattribute__(self, "_name"), *args, **kwargs)
        return Proxy._call(self._resolved(), op, name, *args, **kwargs)

    def __hash__(self):
        return object.__hash__(self)

    def __del__(self):                  # the fetched handle releases itself
        pass


class StudentProcess:
    """One sandboxed host process for one exercise of one submission (restarted after a crash or timeout)."""

    def __init__(self, code_path: str, setup_path: str | None, lab: str | None, memory_mb: int,
                 file_mb: int, cpu_s: int, load_timeout_s: float, nproc: int = 256,
                 shared_dir: str | None = None) -> None:
        self.shared_dir = shared_dir
        self.code_path, self.setup_path, self.lab = code_path, setup_path, lab
        self.memory_mb, self.file_mb, self.cpu_s, self.nproc = memory_mb, file_mb, cpu_s, nproc
        self.load_timeout_s = load_timeout_s
        self.sandboxed = not sandbox.unsandboxed_requested()
        self.proc: subprocess.Popen | None = None
        self.peer: GraderPeer | None = None
        self.cgroup: sandbox.JobCgroup | None = None
        self.child_pid: int | None = None
        self.output = bytearray()
        self.output_total = 0
        self.starts = 0
        self.load_error: str | None = None
        self.module: StudentModule | None = None
        self.launched = False

    # -- lifecycle --------------------------------------------------------------------------
    def argv(self, info_fd: int | None) -> list[str]:
        host = [sys.executable, "-m", "autograder.student_host", self.setup_path or "-", self.code_path,
                str(self.memory_mb), str(self.file_mb), str(self.cpu_s), str(self.nproc)]
        if not self.sandboxed:
            return host
        job_dir = Path(self.code_path).parent
        layout = sandbox.Layout(readonly=[job_dir, *course_paths(self.lab)], info_fd=info_fd,
                                writable=[Path(self.shared_dir)] if self.shared_dir else [],
                                env={"PYTHONPATH": str(REPO_ROOT), "LABKIT_HOME": str(labkit_home())})
        return sandbox.command(host, layout)

    def start(self) -> StudentModule | None:
        """Start (or restart) the sandboxed host and wait until the student's code is loaded."""
        if not self.launched:
            self.launch()
        self.launched = False
        return self.connect()

    def launch(self) -> None:
        """Start the host without waiting for it (the worker overlaps this with importing the grader)."""
        self.stop()
        self.launched = True
        self.starts += 1
        info_r = info_w = None
        if self.sandboxed:
            info_r, info_w = os.pipe()
        self.cgroup = sandbox.JobCgroup.create(self.memory_mb + 512, self.nproc) if self.sandboxed else None
        argv = self.argv(info_w)
        if self.cgroup is not None:
            argv = self.cgroup.wrap(argv)
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONHASHSEED="0", MPLBACKEND="Agg", TOKENIZERS_PARALLELISM="false")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     pass_fds=(info_w,) if info_w is not None else (), start_new_session=True,
                                     cwd="/tmp", env=env)
        if info_w is not None:
            os.close(info_w)
            self.child_pid = sandbox.read_info(info_r).get("child-pid")
            os.close(info_r)
        else:
            self.child_pid = self.proc.pid
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        self.peer = GraderPeer(self.proc.stdout.fileno(), self.proc.stdin.fileno())

    def connect(self) -> StudentModule | None:
        hello = self._hello()
        if hello is None:
            return None
        if not hello.get("loaded"):
            self.load_error = str(hello.get("load_error") or "your code could not be loaded")[:2000]
            return None
        self.load_error = None
        self.peer.start()
        info = self.peer.request("module")
        if not isinstance(info, Proxy):
            self.load_error = "your code's process answered nonsense"
            return None
        self.module = StudentModule(self.peer, object.__getattribute__(info, "_id"), "obj", "module")
        object.__setattr__(self.module, "_process", self)
        functions = self.peer.request("functions")
        object.__setattr__(self.module, "_functions",
                           {str(n): None for n in functions} if isinstance(functions, list) else {})
        return self.module

    def _hello(self) -> dict | None:
        fd = self.peer.rfd
        deadline = time.monotonic() + self.load_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.load_error = (f"your code did not finish loading within {self.load_timeout_s:.0f} s "
                                   "(top-level code that loops forever or does heavy work?)")
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                break
        try:
            hello = recv_frame(fd, 1 << 16)
        except (RemoteError, ValueError):
            code = self.proc.poll()
            self.load_error = ("your code's process ended while it was loading (os._exit, a crash, or the memory "
                               f"limit?){'' if code is None else f' [exit status {code}]'}")
            if self.sandboxed and code not in (None, 0) and b"bwrap:" in bytes(self.output[-2000:]):
                self.load_error = "the sandbox could not start: " + bytes(self.output[-500:]).decode(errors="replace")
            return None
        if not hello.get("hello"):
            self.load_error = "your code's process answered nonsense"
            return None
        return hello

    def _drain(self, stream) -> None:
        while chunk := stream.read(65536):
            self.output_total += len(chunk)
            if len(self.output) < OUTPUT_KEEP_BYTES // 2:
                self.output += chunk[: OUTPUT_KEEP_BYTES // 2 - len(self.output)]
            else:
                keep = OUTPUT_KEEP_BYTES // 2
                self.output = self.output[:keep] + (self.output[keep:] + chunk)[-keep:]

    def output_text(self) -> str:
        text = bytes(self.output).decode("utf-8", "replace")
        if self.output_total > len(self.output):
            half = OUTPUT_KEEP_BYTES // 2
            text = text[:half] + "\n[... output clipped ...]\n" + text[half:]
        return text

    def inside_path(self, path: str) -> str:
        if not self.sandboxed or not self.child_pid:
            return path
        return f"/proc/{self.child_pid}/root{path}"

    def healthy(self) -> bool:
        return self.peer is not None and self.peer.broken is None and self.proc is not None \
            and self.proc.poll() is None and self.module is not None

    def stop(self) -> None:
        if self.proc is not None:
            import signal
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except Exception:  # noqa: BLE001
                    pass
        if self.cgroup is not None:
            self.cgroup.destroy()
        self.proc = self.peer = self.module = self.cgroup = None


def course_paths(lab: str | None) -> list[Path]:
    from .course import sandbox_paths
    return sandbox_paths(lab)


def labkit_home() -> Path:
    from .course import labkit_home as home
    return home()
