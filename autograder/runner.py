"""Run hidden graders on extracted code, each in its own limited process, and score them.

The parent process owns the score: it reads the worker's event stream (only lines carrying the
job's nonce count), kills the worker's whole process group at the wall-clock limit, and gives 0 to
every test that did not report a pass, with a message that says why.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from . import extract, sandbox
from .registry import Grader, all_graders, grader_for

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_KEEP_BYTES = 20_000
EVENT_LINE_LIMIT = 4 << 20
SHARED_MB = 1024         # the job's shared temp folder (a tmpfs of this size where we may mount one)


@dataclass
class TestResult:
    name: str
    doc: str
    points: float
    earned: float = 0.0
    message: str = ""


@dataclass
class ExerciseResult:
    grade_id: str
    lab: str
    max_points: float
    score: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    error: str = ""           # why the whole exercise scored 0 (load error, crash, tampering, ...)
    seconds: float = 0.0
    output_tail: str = ""     # what the submission printed (clipped), for instructors
    notices: list[str] = field(default_factory=list)   # what is off about the submitted notebook itself
    grader_log: str = ""      # the trusted grading process's own output (pytest, grader errors), for instructors
    sandboxed: bool = True    # False only with --no-sandbox (local debugging): such a grade is not defensible

    def to_dict(self) -> dict:
        return asdict(self)


def drain_output(stream, keep: list[bytes]) -> None:
    """Read a pipe to EOF, keeping only its first and last bytes (10 MB of output must not hurt)."""
    head, tail, total = b"", b"", 0
    while chunk := stream.read(65536):
        total += len(chunk)
        if len(head) < OUTPUT_KEEP_BYTES // 2:
            head += chunk[: OUTPUT_KEEP_BYTES // 2 - len(head)]
        tail = (tail + chunk)[-OUTPUT_KEEP_BYTES // 2:]
    keep.append(head if total <= len(head) else head + b"\n[... output clipped ...]\n" + tail)


def read_events(fd: int, nonce: str, events: list[dict]) -> None:
    """The worker's event lines (bounded: a line over 4 MB, or more than 100 000 events, is dropped)."""
    with os.fdopen(fd, "rb") as fh:
        while len(events) < 100_000:
            raw = fh.readline(EVENT_LINE_LIMIT)
            if not raw:
                break
            if not raw.endswith(b"\n"):
                while (rest := fh.readline(EVENT_LINE_LIMIT)) and not rest.endswith(b"\n"):
                    pass
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("nonce") == nonce:
                events.append(event)


def run_grader(grader: Grader, code: str, origin: str = "submission", setup: str | None = None) -> ExerciseResult:
    """Grade ``code`` (an extracted exercise module) with ``grader`` in a fresh, limited process.

    ``setup``: the course's setup cells, run first in the same module as trusted course code (outside the
    student import guard). Without it, ``code`` is expected to hold the setup cells itself."""
    result = ExerciseResult(grader.grade_id, grader.lab, grader.points,
                            tests=[TestResult(n, n, p) for n, p in grader.tests])
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"grade-{grader.grade_id}-") as tmp:
        shared = os.path.join(tmp, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        mounted = sandbox.mount_tmpfs(shared, SHARED_MB)
        code_path = os.path.join(tmp, "student_submission.py")
        Path(code_path).write_text(code, encoding="utf-8")
        setup_path = None
        if setup is not None:
            setup_path = os.path.join(tmp, "course_setup.py")
            Path(setup_path).write_text(setup, encoding="utf-8")
        nonce = secrets.token_hex(16)
        read_fd, write_fd = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.Popen([sys.executable, "-m", "autograder.worker"], cwd=tmp, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        events: list[dict] = []
        output: list[bytes] = []
        readers = [threading.Thread(target=read_events, args=(read_fd, nonce, events), daemon=True),
                   threading.Thread(target=drain_output, args=(proc.stdout, output), daemon=True)]
        for t in readers:
            t.start()
        os.chmod(tmp, 0o755)          # the sandbox (uid 65534) reads the job's files, read-only
        for path in (code_path, setup_path):
            if path:
                os.chmod(path, 0o644)
        job = {"code_path": code_path, "setup_path": setup_path, "grader_path": str(grader.path), "nonce": nonce,
               "result_fd": write_fd, "memory_mb": grader.memory_mb, "file_mb": grader.file_mb,
               "test_timeout_s": grader.test_timeout_s, "origin": origin, "lab": grader.lab,
               "cpu_s": int(grader.timeout_s) + 30, "shared_dir": shared}
        try:
            proc.stdin.write((json.dumps(job) + "\n").encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        timed_out = False
        try:
            proc.wait(timeout=grader.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        kill_group(proc)
        if mounted:
            sandbox.unmount(shared)
        for t in readers:
            t.join(timeout=10)
    result.seconds = round(time.monotonic() - start, 2)
    done = next((e for e in events if e["event"] == "done"), {})
    worker_log = (output[0] if output else b"").decode("utf-8", "replace")
    result.output_tail = str(done.get("output", ""))[:OUTPUT_KEEP_BYTES + 100] if done else worker_log
    result.grader_log = worker_log
    collected = next((e for e in events if e["event"] == "collected"), {})
    result.sandboxed = bool(collected.get("sandboxed", not sandbox.unsandboxed_requested()))
    _score(result, events, timed_out, grader)
    return result


def kill_group(proc: subprocess.Popen) -> None:
    """The worker and anything it started (a submission may fork) must not outlive grading."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _score(result: ExerciseResult, events: list[dict], timed_out: bool, grader: Grader) -> None:
    by_name = {t.name: t for t in result.tests}
    docs = next((e["tests"] for e in events if e["event"] == "collected"), [])
    for info in docs:
        if info["name"] in by_name:
            by_name[info["name"]].doc = info["doc"]
    reported = set()
    for e in events:
        if e["event"] == "test" and e["name"] in by_name and e["name"] not in reported:
            reported.add(e["name"])
            test = by_name[e["name"]]
            test.earned = test.points if e["passed"] else 0.0
            test.message = e.get("message", "")
    done = next((e for e in events if e["event"] == "done"), None)
    if done and done.get("load_error"):
        result.error = done["load_error"]
    elif not docs:
        result.error = "the grader could not start (see the instructor log)"
    elif timed_out:
        result.error = f"grading stopped after {grader.timeout_s:.0f} s: tests that had not finished score 0"
    elif done is None:
        result.error = "the grading process ended abruptly (tell your instructor: this is not your code's doing)"
    for test in result.tests:
        if test.name not in reported and not test.message:
            test.message = "not run: " + (result.error or "the grader stopped early")
    result.score = round(sum(t.earned for t in result.tests), 6)


# -- notebooks -------------------------------------------------------------------------------------

def course_notebook(grader: Grader):
    """The course's own copy of the notebook holding ``grader``'s grade cell (release/, else source/)."""
    for folder in (REPO_ROOT / "release" / grader.lab, REPO_ROOT / "source" / grader.lab):
        for path in sorted(folder.glob("*.ipynb")):
            nb = _course_notebook(str(path), path.stat().st_mtime)
            if any(c.grade_id == grader.grade_id for c in extract.grade_cells(nb)):
                return nb, path
    return None, None


@lru_cache(maxsize=64)
def _course_notebook(path: str, mtime: float):
    return extract.read_notebook(path)


def submission_code(nb, grader: Grader, origin: str) -> tuple[str, str | None]:
    """(the student's code, the trusted setup code or None) for one exercise of a submitted notebook.

    The setup cells are taken from the course's copy of the notebook when there is one: they are locked
    course code, so a submission can't change them, and they may import what student code may not."""
    course_nb, course_path = course_notebook(grader)
    if course_nb is None:
        return extract.exercise_code(nb, list(grader.exercises), origin), None
    setup = extract.setup_code(course_nb, course_path.relative_to(REPO_ROOT).as_posix())
    return extract.solution_code(nb, list(grader.exercises), origin), setup


def course_exercises(nb) -> tuple[list[Grader], list[str]]:
    """The graded exercises of the course notebook ``nb`` is a submission of, and what is off about ``nb``.

    Which exercises exist and what they are worth come from the course's copy of the notebook, never from
    the submission: pasting a grade cell again, renaming or deleting one changes nothing but a notice."""
    submitted = [c.grade_id for c in extract.grade_cells(nb)]
    ids = set(submitted) | set(extract.solution_ids(nb))
    best, best_overlap = None, 0
    for path in sorted((REPO_ROOT / "release").glob("*/*.ipynb")) or sorted((REPO_ROOT / "source").glob("*/*.ipynb")):
        course = _course_notebook(str(path), path.stat().st_mtime)
        course_ids = {c.grade_id for c in extract.grade_cells(course)} | set(extract.solution_ids(course))
        overlap = len(ids & course_ids)
        if overlap > best_overlap:
            best, best_overlap = course, overlap
    if best is None:     # not a course notebook: grade what it names (each grade_id once)
        graders = [g for g in dict.fromkeys(grader_for(gid) for gid in submitted) if g is not None]
        return graders, []
    expected = [c.grade_id for c in extract.grade_cells(best)]
    notices = []
    for gid in sorted(set(submitted)):
        if submitted.count(gid) > 1:
            notices.append(f"grade cell {gid} appears {submitted.count(gid)} times in your notebook (graded once)")
        if gid not in expected:
            notices.append(f"grade cell {gid} is not part of this assignment (ignored)")
    notices += [f"grade cell {gid} is missing from your notebook (graded anyway from your solution cell)"
                for gid in expected if gid not in submitted]
    return [g for g in (grader_for(gid) for gid in expected) if g is not None], notices


def grade_notebook(nb, origin: str = "notebook", workers: int = 1,
                   only: set[str] | None = None) -> list[ExerciseResult]:
    """Grade every exercise of the course notebook ``nb`` is a submission of (``only``: these grade_ids)."""
    sandbox.require()
    graders, notices = course_exercises(nb)
    jobs: list[tuple[Grader, str | None, str | None, str]] = []
    for grader in graders:
        if only is not None and grader.grade_id not in only:
            continue
        try:
            code, setup = submission_code(nb, grader, origin)
            jobs.append((grader, code, setup, ""))
        except extract.ExtractionError as exc:
            jobs.append((grader, None, None, str(exc)))

    def run(job):
        grader, code, setup, problem = job
        if code is None:
            res = ExerciseResult(grader.grade_id, grader.lab, grader.points,
                                 tests=[TestResult(n, n, p, message="not run") for n, p in grader.tests])
            res.error = problem
        else:
            res = run_grader(grader, code, origin, setup=setup)
        res.notices = [n for n in notices if grader.grade_id in n] or []
        return res

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(run, jobs))


def grade_notebook_file(path: str | Path, workers: int = 1) -> list[ExerciseResult]:
    nb = extract.read_notebook(path)
    return grade_notebook(nb, origin=str(path), workers=workers)


def graders_for_lab(lab: str) -> list[Grader]:
    return [g for g in all_graders().values() if g.lab == lab]
