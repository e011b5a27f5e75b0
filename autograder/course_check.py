"""The instructor's "does my course work" run (the README's main command).

Builds the tiny models, regenerates ``release/`` and ``solutions/`` from ``source/``, then for every lab
runs the real nbgrader pipeline on two submissions (``reference``: the instructor notebooks, ``blank``:
the released stubs) -- ``generate_assignment`` -> ``autograde`` -> ``generate_feedback`` -> ``export`` --
and prints the grade table. It fails if the reference does not get full marks, the blank does not get 0,
or any feedback file shows hidden test code.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import build as build_mod
from .labs import select_labs

EXPECTED = {"reference": "max", "blank": 0.0}


def _step(msg: str) -> None:
    print(f"[course-check] {msg}", flush=True)


def run_nbgrader(args: list[str], course: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=build_mod.nbgrader_env())
    if proc.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-4000:]}")


def autograde_class(course: Path, lab: str, submissions: dict[str, Path]) -> None:
    """Put each submission folder in submitted/<student>/<lab>/ and run the nbgrader pipeline."""
    for student, folder in submissions.items():
        dest = course / "submitted" / student / lab
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for nb in sorted(folder.glob("*.ipynb")):
            shutil.copy(nb, dest / nb.name)
    run_nbgrader(["autograde", lab, "--force", "--log-level=WARN"], course)
    run_nbgrader(["generate_feedback", lab, "--force", "--log-level=WARN"], course)


def export_grades(course: Path) -> list[dict]:
    out = course / "grades.csv"
    run_nbgrader(["export", "--to", str(out), "--log-level=WARN"], course)
    with open(out) as fh:
        return list(csv.DictReader(fh))


def leaked_hidden_tests(course: Path) -> list[Path]:
    return [p for p in (course / "feedback").rglob("*.html") if "BEGIN HIDDEN TESTS" in p.read_text()]


def course_check(workers: int = 2, keep: str | None = None, only: list[str] | None = None) -> int:
    t0 = time.monotonic()
    try:
        labs = select_labs(build_mod.labs(), only)
    except ValueError as exc:
        print(f"course-check: {exc}", file=sys.stderr)
        return 2
    try:
        from labkit.models import tiny_models
        _step("building the tiny models (cached after the first run)")
        tiny_models()
    except ImportError:
        _step("labkit.models is not available yet: skipping the model build")
    _step("regenerating release/ and solutions/ from source/")
    build_mod.build()
    if not labs:
        _step("no labs under source/: nothing to grade")
        return 0
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="course-check-"))
    course = build_mod.make_course_dir(tmp)
    for lab in labs:
        _step(f"{lab}: generate_assignment, autograde reference + blank, generate_feedback")
        build_mod.generate_release(lab, course)
        autograde_class(course, lab, {"reference": build_mod.SOURCE / lab, "blank": build_mod.RELEASE / lab})
    rows = export_grades(course)
    problems = []
    print()
    print(f"{'lab':<34} {'submission':<10} {'score':>8} {'max':>6}")
    for r in sorted(rows, key=lambda r: (r["assignment"], r["student_id"])):
        score, mx = float(r["raw_score"]), float(r["max_score"])
        print(f"{r['assignment']:<34} {r['student_id']:<10} {score:>8g} {mx:>6g}")
        want = mx if EXPECTED.get(r["student_id"]) == "max" else EXPECTED.get(r["student_id"])
        if want is not None and abs(score - want) > 1e-6:
            problems.append(f"{r['assignment']}/{r['student_id']}: {score:g}, expected {want:g}")
    leaks = leaked_hidden_tests(course)
    problems += [f"feedback shows hidden tests: {p}" for p in leaks]
    print()
    for p in problems:
        print("PROBLEM:", p)
    _step(f"done in {time.monotonic() - t0:.0f} s; nbgrader course folder: {course}")
    if not keep and not problems:
        shutil.rmtree(tmp, ignore_errors=True)
    print("course check: OK" if not problems else f"course check: {len(problems)} problem(s)")
    return 1 if problems else 0
