"""The parent side: run checks in a fresh process that the student's code lives in, and collect results.

The parent never imports student code. ``run_checks`` starts ``python -m gpu_runner.child`` in its own
process group, sends the job (with a random nonce) on stdin, and reads events from a private pipe:
only lines carrying the nonce count. The child loads the models and the student's modules once
("ready"), then reports one result per check. Each check has its own time limit, counted from the
previous event; at the limit the whole process group is killed, that check fails, and the checks
after it continue in a fresh process (so do they after a crash). What the child printed is kept
(first and last 10 KB). The parent, not the child, turns measurements into verdicts.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .submission import extraction

extraction()  # autograder.runner imports autograder.extract, which needs nbformat (or the stand-in)
from autograder.runner import drain_output, kill_group, read_events  # noqa: E402 - the same process plumbing as grading

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class GroupResult:
    results: dict[str, dict] = field(default_factory=dict)    # check -> the child's result event
    failures: dict[str, str] = field(default_factory=dict)    # check -> why it produced nothing
    seconds: dict[str, float] = field(default_factory=dict)   # check -> seconds it took
    output: str = ""                                          # what the child processes printed


def _env(threads: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def child_command(job: dict, workdir: Path, threads: int | None) -> list[str]:
    """The check process, inside the grading sandbox (autograder/sandbox.py): it loads student code, so it
    sees only the runner's code, labkit, the models, the reference parts, the submission's extracted parts and
    its own work folder, with no network, its own pid namespace and, on a GPU host, the NVIDIA devices."""
    from autograder import sandbox
    from autograder.course import labkit_home
    argv = [sys.executable, "-m", "gpu_runner.child"]
    if sandbox.unsandboxed_requested():
        return argv
    sandbox.require()
    parts = {str(Path(p).resolve().parent) for p in job.get("files", {}).values()}
    readonly = [REPO_ROOT / "gpu_runner", *(REPO_ROOT / "autograder").glob("*.py"), REPO_ROOT / "solutions",
                REPO_ROOT / "labkit", labkit_home(), *map(Path, sorted(parts))]
    if os.environ.get("LAB_MODEL"):
        readonly.append(Path(os.environ["LAB_MODEL"]).resolve())
    devices = [str(p) for p in sorted(Path("/dev").glob("nvidia*"))] + \
        [p for p in ("/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices") if Path(p).exists() and Path("/dev/nvidia0").exists()]
    keep = ("PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "MPLBACKEND", "TOKENIZERS_PARALLELISM",
            "TRANSFORMERS_VERBOSITY", "HF_HUB_OFFLINE", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
            "LAB_MODEL")
    env = {k: v for k, v in _env(threads).items() if k in keep}
    env["LABKIT_HOME"] = str(labkit_home())
    layout = sandbox.Layout(readonly=readonly, writable=[workdir.resolve()], cwd=str(workdir.resolve()), env=env,
                            devices=devices, tmp_mb=2048)
    return sandbox.command(argv, layout)


def _one_process(checks: list[str], job: dict, timeouts: dict, startup_s: float, workdir: Path,
                 threads: int | None, out: GroupResult) -> None:
    """Run ``checks`` in one child until it finishes or one check fails to report."""
    nonce = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = child_command(job, workdir, threads)
    proc = subprocess.Popen(argv, cwd=workdir, env=_env(threads),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            pass_fds=(write_fd,), start_new_session=True)
    os.close(write_fd)
    events: list[dict] = []
    output: list[bytes] = []
    readers = [threading.Thread(target=read_events, args=(read_fd, nonce, events), daemon=True),
               threading.Thread(target=drain_output, args=(proc.stdout, output), daemon=True)]
    for t in readers:
        t.start()
    try:
        proc.stdin.write((json.dumps({**job, "checks": checks, "nonce": nonce, "result_fd": write_fd}) + "\n").encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    pending, seen, ready = list(checks), 0, False
    since, limit = time.monotonic(), startup_s
    while pending:
        finished = proc.poll() is not None
        if finished:
            readers[0].join(timeout=5)           # the last events may still be in the pipe
        for event in events[seen:]:
            now = time.monotonic()
            if event.get("event") == "ready":
                ready = True
            elif event.get("event") == "result" and event.get("check") == pending[0]:
                out.results[pending[0]], out.seconds[pending[0]] = event, round(now - since, 1)
                pending.pop(0)
            since, limit = now, timeouts.get(pending[0], 0) if pending else 0
        seen = len(events)
        if not pending or finished:
            break
        if time.monotonic() - since > limit:
            what = f"did not finish within {limit:.0f} s (too slow, or an endless loop)" if ready else \
                f"the check process did not start within {limit:.0f} s"
            out.failures[pending[0]] = what
            out.seconds[pending[0]] = round(time.monotonic() - since, 1)
            break
        time.sleep(0.1)
    kill_group(proc)
    for t in readers:
        t.join(timeout=10)
    if pending and pending[0] not in out.failures:   # the process ended without reporting this check
        code = proc.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        out.failures[pending[0]] = f"the check process ended without a result ({how}); see its output"
        out.seconds[pending[0]] = round(time.monotonic() - since, 1)
    out.output += (output[0] if output else b"").decode("utf-8", "replace")


def run_checks(checks: list[str], job: dict, timeouts: dict, startup_s: float, workdir: Path,
               threads: int | None = None) -> GroupResult:
    """Every check in ``checks`` ends with a result or a failure; a fresh process takes over after a failure."""
    out = GroupResult()
    todo = list(checks)
    while todo:
        _one_process(todo, job, timeouts, startup_s, workdir, threads, out)
        todo = [c for c in todo if c not in out.results and c not in out.failures]
    return out
