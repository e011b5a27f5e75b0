"""The trusted grading process: run one hidden grader against one student's sandboxed exercise code.

Started by :mod:`autograder.runner` as ``python -m autograder.worker`` with its own process group and a
private result pipe. It reads one JSON job from stdin, runs pytest on the hidden grader, and streams one
JSON line per event to the result pipe. It never executes student code: the ``student`` fixture is a
handle to the student's module inside the sandbox (:mod:`autograder.student_proxy`), so the grader's
assertions, hypothesis and the event stream are out of the submission's reach. The parent decides the
score and enforces the wall-clock limit.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys

import pytest

from autograder.remote import RemoteError, StudentError
from autograder.student_proxy import StudentProcess

MAX_RESTARTS = 20     # student processes started again after a crash or a timeout, per exercise


class GraderTimeout(BaseException):
    """Raised by the per-test alarm. BaseException, so ``except Exception`` in student code can't eat it."""


class Channel:
    def __init__(self, fd: int, nonce: str) -> None:
        self._fd, self._nonce = fd, nonce

    def send(self, event: str, **data) -> None:
        line = json.dumps({"nonce": self._nonce, "event": event, **data}, default=str) + "\n"
        os.write(self._fd, line.encode())


def _alarm(signum, frame):
    raise GraderTimeout()


class GradingPlugin:
    """Pytest plugin: provides the ``student`` fixture (a handle to the sandboxed module) and reports
    each test to the parent. This process runs the grader and never executes student code."""

    def __init__(self, job: dict, channel: Channel) -> None:
        self.job, self.channel = job, channel
        self.process = StudentProcess(job["code_path"], job.get("setup_path"), job.get("lab"),
                                      int(job["memory_mb"]), int(job.get("file_mb", 256)),
                                      int(job.get("cpu_s", 600)), float(job["test_timeout_s"]),
                                      shared_dir=job.get("shared_dir"))
        self.module = None
        self.load_error: str | None = None
        self.restarts = 0

    # -- loading ---------------------------------------------------------------------------------
    def pytest_collection_finish(self, session):
        tests = [{"name": item.name, "doc": _doc(item), "points": _points(item)} for item in session.items]
        self.channel.send("collected", tests=tests, sandboxed=self.process.sandboxed)
        self._start()

    def _start(self) -> None:
        self.module = self.process.start()
        self.load_error = self.process.load_error

    def healthy(self) -> bool:
        return self.module is not None and self.process.healthy()

    # -- the fixture -----------------------------------------------------------------------------
    @pytest.fixture(name="student")
    def student_fixture(self):
        if self.module is not None and not self.healthy() and self.restarts < MAX_RESTARTS:
            self.restarts += 1           # the last test crashed or timed out the student's process
            self._start()
        if self.module is None or not self.healthy():
            pytest.fail(self.load_error or "your code could not be loaded", pytrace=False)
        return self.module

    # -- running -----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        # Repeats every second after the limit, so a grader loop that swallows one GraderTimeout gets another.
        signal.setitimer(signal.ITIMER_REAL, float(self.job["test_timeout_s"]), 1.0)

    def pytest_runtest_teardown(self, item):
        signal.setitimer(signal.ITIMER_REAL, 0)

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            signal.setitimer(signal.ITIMER_REAL, 0)
            passed = call.excinfo is None
            message = "" if call.excinfo is None else describe(call.excinfo.value, self)
            self.channel.send("test", name=item.name, passed=passed, message=message)

    def pytest_sessionfinish(self, session):
        self.process.stop()


def _doc(item) -> str:
    doc = (getattr(item.function, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else item.name.removeprefix("test_").replace("_", " ")


def _points(item) -> float:
    mark = item.get_closest_marker("points")
    return float(mark.args[0]) if mark else 0.0


def describe(exc: BaseException, plugin: GradingPlugin) -> str:
    """A feedback line for an exception: never the grader's code; the student's own exceptions are
    clipped and marked as theirs, so a submission cannot fill its feedback with text of its choosing."""
    if isinstance(exc, GraderTimeout):
        return f"timed out after {plugin.job['test_timeout_s']:.0f} s (an infinite loop, or far too slow?)"
    if isinstance(exc, RemoteError):
        return ("your code's process stopped answering (it crashed, called os._exit, exceeded the memory limit of "
                f"{plugin.job['memory_mb']} MB, or sent something unreadable); the next test starts it afresh")
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith(("Falsifying", "Failing test case"))]
    if isinstance(exc, StudentError):
        if exc.remote_type == "NotImplementedError":
            text = "not implemented yet (the code raises NotImplementedError)"
        elif exc.remote_type == "MemoryError":
            text = f"ran out of memory (limit {plugin.job['memory_mb']} MB)"
        else:
            text = f"your code raised {exc.remote_type}: {_clip(exc.message_text, 300)}" + \
                (f" (in {exc.where})" if exc.where else "")
    elif type(exc).__name__ == "Failed":           # pytest.fail(...) in the grader
        text = _clip(str(getattr(exc, "msg", exc)), 3000)
    elif isinstance(exc, AssertionError):
        text = _clip(str(exc) or "a check failed", 3000)
    else:                                            # an error in the grader itself, e.g. a TypeError on a bad result
        text = f"{type(exc).__name__}: {_clip(str(exc), 500)}"
    if notes:
        text += "\n" + _clip(_hide_fixture(notes[0]), 1500)
    return text


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
    if job.get("shared_dir"):        # the grader's temporary files live where the sandbox can see them too
        import tempfile
        os.environ["TMPDIR"] = tempfile.tempdir = job["shared_dir"]
    channel = Channel(job["result_fd"], job["nonce"])
    signal.signal(signal.SIGALRM, _alarm)
    _configure_hypothesis()

    plugin = GradingPlugin(job, channel)
    plugin.process.launch()     # the sandbox loads the student's code while pytest imports the grader
    args = [job["grader_path"], "-q", "--no-header", "--assert=plain", "--tb=no", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--import-mode=importlib", "-c", os.devnull,
            "--rootdir", os.getcwd(), "-W", "ignore::DeprecationWarning",
            "-o", "console_output_style=classic"]
    try:
        code = pytest.main(args, plugins=[plugin])
        channel.send("done", exit_code=int(code), load_error=plugin.load_error,
                     output=plugin.process.output_text(), starts=plugin.process.starts)
    finally:
        sys.stdout.flush()
        os._exit(0)   # skip atexit handlers a submission may have registered


if __name__ == "__main__":
    main()
