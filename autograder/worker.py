"""The grading process: load one student's exercise code and run one hidden grader on it.

Started by :mod:`autograder.runner` as ``python -m autograder.worker`` in a fresh interpreter with a
memory limit, its own process group and a private result pipe. It reads one JSON job from stdin,
streams one JSON line per event to the result pipe (each carrying the job's nonce), and exits. The
parent, not this process, decides the score and enforces the wall-clock limit.
"""
from __future__ import annotations

import importlib.abc
import json
import os
import re
import resource
import signal
import sys
import traceback
import types

import pytest

STUDENT_MODULE = "student_submission"
_CELL_MARK = re.compile(r"^# --- cell: (\S+) ---$")
BLOCKED_IMPORTS = ("solutions", "autograder", "tests")


class GraderTimeout(BaseException):
    """Raised by the per-test alarm. BaseException, so ``except Exception`` in student code can't eat it."""


class Channel:
    def __init__(self, fd: int, nonce: str) -> None:
        self._fd, self._nonce = fd, nonce

    def send(self, event: str, **data) -> None:
        line = json.dumps({"nonce": self._nonce, "event": event, **data}, default=str) + "\n"
        os.write(self._fd, line.encode())


def apply_limits(memory_mb: int, file_mb: int = 256) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    big_file = file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (big_file, big_file))


def cell_location(code_lines: list[str], lineno: int) -> str:
    """'cell block_manager, line 7' for a line of the extracted module."""
    cell, start = "setup", 0
    for i, line in enumerate(code_lines[:lineno], start=1):
        m = _CELL_MARK.match(line)
        if m:
            cell, start = m.group(1), i
    return f"cell {cell}, line {lineno - start}"


class StudentImportGuard(importlib.abc.MetaPathFinder):
    """Student code may not import the reference solutions or the grader."""

    def __init__(self, student_path: str) -> None:
        self.student_path = student_path

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in BLOCKED_IMPORTS:
            return None
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.student_path:
                raise ImportError(f"importing {fullname!r} is not allowed in a submission")
            frame = frame.f_back
        return None


def _missing_name(name: str):
    raise AttributeError(f"your code does not define {name!r} (check the spelling, and that the exercise "
                         "cell defines it at top level)")


def _alarm(signum, frame):
    raise GraderTimeout()


class GradingPlugin:
    """Pytest plugin: provides the ``student`` fixture and reports each test to the parent."""

    def __init__(self, job: dict, channel: Channel) -> None:
        self.job, self.channel = job, channel
        self.student_path = job["code_path"]
        with open(self.student_path, encoding="utf-8") as fh:
            self.code_lines = fh.read().splitlines()
        self.setup_path = job.get("setup_path")
        self.setup_text = ""
        if self.setup_path:
            with open(self.setup_path, encoding="utf-8") as fh:
                self.setup_text = fh.read()
        self.module: types.ModuleType | None = None
        self.load_error: str | None = None
        self.guard = None
        self.tampered: list[str] = []

    # -- loading ---------------------------------------------------------------------------------
    def pytest_collection_finish(self, session):
        tests = [{"name": item.name, "doc": _doc(item), "points": _points(item)} for item in session.items]
        self.channel.send("collected", tests=tests)
        from autograder.guard import TamperGuard, preimport_libraries
        # Libraries rebind their own names when first imported (torch rebinds inspect.getfile): import
        # the watched libraries the submission uses first, so only the submission's own changes count.
        preimport_libraries(self.setup_text + "\n" + "\n".join(self.code_lines))
        self.guard = TamperGuard.snapshot()
        sys.meta_path.insert(0, StudentImportGuard(self.student_path))
        self._load_student()
        self._check_tampering("while your code was loading")

    def _load_student(self) -> None:
        module = types.ModuleType(STUDENT_MODULE)
        module.__file__ = self.student_path
        sys.modules[STUDENT_MODULE] = module
        try:
            code = compile("\n".join(self.code_lines) + "\n", self.student_path, "exec")
        except SyntaxError as exc:
            where = cell_location(self.code_lines, exc.lineno or 0)
            self.load_error = f"SyntaxError in {where}: {exc.msg}"
            return
        signal.setitimer(signal.ITIMER_REAL, float(self.job["test_timeout_s"]))
        try:
            if self.setup_text and not self._run_setup(module):
                return
            exec(code, module.__dict__)
            module.__dict__.setdefault("__getattr__", _missing_name)
            self.module = module
        except GraderTimeout:
            self.load_error = (f"your code did not finish loading within {self.job['test_timeout_s']:.0f} s "
                               "(top-level code that loops forever or does heavy work?)")
        except BaseException as exc:  # noqa: BLE001 - anything the student's top level raises
            self.load_error = f"your code raised {describe(exc, self)} when it was loaded"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _run_setup(self, module: types.ModuleType) -> bool:
        """The course's setup cells: trusted code, compiled under their own file name so the student
        import guard lets them import what they need. False (with a load error) if they fail."""
        try:
            exec(compile(self.setup_text, self.setup_path, "exec"), module.__dict__)
            return True
        except GraderTimeout:
            raise
        except BaseException as exc:  # noqa: BLE001
            self.load_error = (f"the course's setup cells failed with {type(exc).__name__}: {exc} "
                               "(not your code: tell your instructor)")
            return False

    def _check_tampering(self, when: str) -> None:
        if self.guard is not None and not self.tampered:
            changed = self.guard.changes()
            if changed:
                self.tampered = changed
                self.channel.send("tampered", names=changed, when=when)

    # -- the fixture -----------------------------------------------------------------------------
    @pytest.fixture(name="student")
    def student_fixture(self):
        if self.module is None:
            pytest.fail(self.load_error or "your code could not be loaded", pytrace=False)
        return self.module

    # -- running -----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        # Repeats every second after the limit, so code that swallows one GraderTimeout gets another.
        signal.setitimer(signal.ITIMER_REAL, float(self.job["test_timeout_s"]), 1.0)

    def pytest_runtest_teardown(self, item):
        signal.setitimer(signal.ITIMER_REAL, 0)

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._check_tampering(f"during {item.name}")
            passed = call.excinfo is None and not self.tampered
            message = "" if call.excinfo is None else describe(call.excinfo.value, self)
            self.channel.send("test", name=item.name, passed=passed, message=message)


    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        self._check_tampering("after the tests")


def _doc(item) -> str:
    doc = (getattr(item.function, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else item.name.removeprefix("test_").replace("_", " ")


def _points(item) -> float:
    mark = item.get_closest_marker("points")
    return float(mark.args[0]) if mark else 0.0


def describe(exc: BaseException, plugin: GradingPlugin) -> str:
    """A feedback line for an exception: never the grader's code, at most a location in the student's."""
    if isinstance(exc, GraderTimeout):
        return f"timed out after {plugin.job['test_timeout_s']:.0f} s (an infinite loop, or far too slow?)"
    if isinstance(exc, NotImplementedError):
        return "not implemented yet (the code raises NotImplementedError)"
    if isinstance(exc, MemoryError):
        return f"ran out of memory (limit {plugin.job['memory_mb']} MB)"
    if type(exc).__name__ == "Failed":           # pytest.fail(...)
        return str(getattr(exc, "msg", exc))
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith(("Falsifying", "Failing test case"))]
    if isinstance(exc, AssertionError):
        text = str(exc) or "a check failed"
    else:
        where = _student_frame(exc, plugin)
        text = f"{type(exc).__name__}: {_clip(str(exc))}" + (f" (in {where})" if where else "")
    if notes:
        text += "\n" + _clip(_hide_fixture(notes[0]), 1500)
    return text


def _student_frame(exc: BaseException, plugin: GradingPlugin) -> str | None:
    where = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == plugin.student_path:
            where = f"{frame.f_code.co_name}(), {cell_location(plugin.code_lines, lineno)}"
    return where


def _hide_fixture(note: str) -> str:
    note = re.sub(r"\n\s*student=<module[^\n]*>,", "", note)
    return re.sub(r"^(Falsifying example|Failing test case): \w+\(", "counterexample: (", note)


def _clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _configure_hypothesis() -> None:
    try:
        from hypothesis import HealthCheck, Phase, settings
    except ImportError:  # pragma: no cover
        return
    # No "explain" phase and one bug per test: a failing submission gets its shrunk counterexample in
    # seconds instead of running into the per-test time limit.
    settings.register_profile("grading", derandomize=True, deadline=None, database=None, print_blob=False,
                              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    settings.load_profile("grading")


def main() -> None:
    job = json.loads(sys.stdin.readline())
    channel = Channel(job["result_fd"], job["nonce"])
    apply_limits(int(job["memory_mb"]), int(job.get("file_mb", 256)))
    signal.signal(signal.SIGALRM, _alarm)
    _configure_hypothesis()

    plugin = GradingPlugin(job, channel)
    args = [job["grader_path"], "-q", "--no-header", "--assert=plain", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--import-mode=importlib", "-c", os.devnull,
            "--rootdir", os.getcwd(), "-W", "ignore::DeprecationWarning",
            "-o", "console_output_style=classic"]
    try:
        code = pytest.main(args, plugins=[plugin])
        channel.send("done", exit_code=int(code), load_error=plugin.load_error)
    finally:
        sys.stdout.flush()
        os._exit(0)   # skip atexit handlers a submission may have registered


if __name__ == "__main__":
    main()
