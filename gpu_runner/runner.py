"""``run``: extract a submission, run every check in its own process, judge, write the reports.

Statuses of a report line: ``passed``, ``failed``, ``blocked`` (no CUDA device and no ``--cpu``:
nothing was measured, which is not the student's fault) and ``skipped`` (with the reason: the
submission lacks the exercise, or a correctness check failed so there are no performance points).
The run fails (exit status 1) only if a line failed.
"""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

from .checks import CORRECTNESS_CHECKS, CheckSpec, Outcome
from .config import cuda_available, device_name, load_settings
from .submission import known_exercises, load_submission
from .throughput import THROUGHPUT

ALL_CHECKS: list[CheckSpec] = [*CORRECTNESS_CHECKS, THROUGHPUT]
BLOCKED_REASON = ("no CUDA device on this machine: GPU checks were not run (run on a GPU host, or add --cpu "
                  "for the tiny-model CPU versions)")


def check_by_name(name: str) -> CheckSpec:
    return next(c for c in ALL_CHECKS if c.name == name)


def check_lab(spec: CheckSpec) -> str:
    return known_exercises()[spec.uses[0]][0]


def select_checks(labs: list[str], only: list[str] | None = None) -> list[CheckSpec]:
    """Checks of ``labs``; ``only``: names of checks or report lines to keep."""
    chosen = [c for c in ALL_CHECKS if check_lab(c) in labs]
    if only:
        unknown = set(only) - {n for c in ALL_CHECKS for n in (c.name, *c.entry_names)}
        if unknown:
            raise ValueError(f"unknown check(s) {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(c.name for c in ALL_CHECKS)}")
        chosen = [c for c in chosen if c.name in only or set(c.entry_names) & set(only)]
    return chosen


def _log(text: str) -> None:
    print(f"[gpu_runner] {text}", file=sys.stderr, flush=True)


def _extraction_outcome(sub) -> Outcome:
    found = ", ".join(f"{e} ({Path(o).name})" for e, o in sub.origins.items()) or "none"
    details = {"exercises": dict(sub.origins), "problems": sub.problems, "notes": sub.notes}
    if sub.problems:
        return Outcome("extract", "submission", "failed", "; ".join(sub.problems) + f". Exercises found: {found}",
                       details=details)
    if not sub.modules:
        return Outcome("extract", "submission", "failed",
                       f"{sub.path}: no engine exercise (solution cell with a known grade_id) found", details=details)
    return Outcome("extract", "submission", "passed", f"exercises: {found}" + "".join(f"; {n}" for n in sub.notes),
                   details=details)


def _run_group(specs: list[CheckSpec], files: dict[str, str], settings: dict, out_dir: Path, group: str,
               timeout_scale: float) -> list[Outcome]:
    """Run checks in one check process (a fresh one after a crash or a timeout); judge their results."""
    from .sandbox import run_checks
    uses = {e for spec in specs for e in spec.uses}
    timeouts = {spec.name: settings["timeouts"][spec.name] * timeout_scale for spec in specs}
    job = {"settings": settings, "files": {e: p for e, p in files.items() if e in uses}}
    ran = run_checks([s.name for s in specs], job, timeouts, settings["timeouts"]["startup"] * timeout_scale,
                     out_dir / "work" / group, threads=settings.get("threads") if settings["device"] == "cpu" else None)
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    (out_dir / "logs" / f"{group}.log").write_text(ran.output, encoding="utf-8")
    outcomes = []
    for spec in specs:
        result = ran.results.get(spec.name, {})
        problem = ran.failures.get(spec.name) or result.get("error")
        if problem is None and not isinstance(result.get("metrics"), dict):
            problem = "the check process reported no measurements"
        judged = []
        if problem is None:
            try:
                judged = spec.judge(result["metrics"], settings)
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                problem = f"the check process reported malformed measurements ({type(exc).__name__}: {exc})"
        if problem is not None:
            judged = [Outcome(name, spec.kind, "failed", problem) for name in spec.entry_names]
        for o in judged:
            o.seconds = ran.seconds.get(spec.name, 0.0)
            if o.status == "failed":
                o.output_tail = ran.output[-3000:]
        outcomes += judged
    return outcomes


def _run_checks(specs: list[CheckSpec], sub, files: dict[str, str], mode: str, settings: dict, out_dir: Path,
                timeout_scale: float) -> list[Outcome]:
    """Outcomes of ``specs`` in order: correctness in one process group, then (if all passed) throughput."""
    done: dict[str, Outcome] = {}
    to_run: dict[str, list[CheckSpec]] = {"correctness": [], "performance": []}
    for spec in specs:
        if not any(e in files for e in spec.uses):
            reason = (f"the submission has no solution cell with grade_id {' / '.join(map(repr, spec.uses))}"
                      + (" (not extracted, see 'extract')" if sub.problems else ""))
            done.update({n: Outcome(n, spec.kind, "skipped", reason) for n in spec.entry_names})
        elif mode == "blocked":
            done.update({n: Outcome(n, spec.kind, "blocked", BLOCKED_REASON) for n in spec.entry_names})
        else:
            to_run[spec.kind].append(spec)
    if to_run["correctness"]:
        _log(f"correctness: {', '.join(s.name for s in to_run['correctness'])}")
        for o in _run_group(to_run["correctness"], files, settings, out_dir, "correctness", timeout_scale):
            done[o.name] = o
    failed = [o.name for o in done.values() if o.kind == "correctness" and o.status == "failed"]
    for spec in to_run["performance"]:
        if failed:
            reason = f"no performance points: correctness failed ({', '.join(failed)})"
            done.update({n: Outcome(n, spec.kind, "skipped", reason) for n in spec.entry_names})
    if to_run["performance"] and not failed:
        _log("throughput: " + ", ".join(s.summary for s in to_run["performance"]))
        for o in _run_group(to_run["performance"], files, settings, out_dir, "performance", timeout_scale):
            done[o.name] = o
    return [done[n] for spec in specs for n in spec.entry_names]


def run(submission: str | Path, out_dir: str | Path, labs: list[str] | None = None, cpu: bool = False,
        only: list[str] | None = None, thresholds: str | Path | None = None, timeout_scale: float = 1.0) -> dict:
    """Grade one submission; write the reports under ``out_dir``; return the report."""
    started, t0 = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = "cpu" if cpu else ("gpu" if cuda_available() else "blocked")
    settings = load_settings("gpu" if mode == "blocked" else mode, thresholds)
    sub = load_submission(submission, labs)
    files = sub.write_parts(out_dir / "parts")
    outcomes = [_extraction_outcome(sub)]
    _log(f"{sub.path}: mode {mode}, labs {', '.join(sub.labs) or 'none'}; {outcomes[0].message}")
    results = _run_checks(select_checks(sub.labs, only), sub, files, mode, settings, out_dir, timeout_scale)
    for o in results:
        _log(f"{o.name}: {o.status.upper()} {o.message}")
    outcomes += results
    for o in outcomes:
        o.max_points = float(settings["points"].get(o.name, 0))
        o.points = o.max_points if o.status == "passed" else 0.0
    report = {
        "tool": "gpu_runner", "submission": str(submission), "labs": sub.labs, "mode": mode,
        "device": device_name(mode) if mode != "blocked" else f"no CUDA device ({platform.node()})",
        "status": overall_status(outcomes), "score": sum(o.points for o in outcomes),
        "max_score": sum(o.max_points for o in outcomes), "started": started,
        "seconds": round(time.monotonic() - t0, 1), "thresholds_file": settings["thresholds_file"],
        "parts": dict(sub.origins), "checks": [vars(o) for o in outcomes],
    }
    from .report import write_reports
    report["files"] = write_reports(report, out_dir)
    _log(f"status {report['status']}, score {report['score']:g}/{report['max_score']:g}; reports in {out_dir}")
    return report


def overall_status(outcomes: list[Outcome]) -> str:
    statuses = {o.status for o in outcomes}
    for status in ("failed", "blocked"):
        if status in statuses:
            return status
    return "passed" if any(o.status == "passed" and o.kind != "submission" for o in outcomes) else "skipped"
