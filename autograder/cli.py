"""``python -m autograder``: grade notebooks without nbgrader, check the course, build artefacts.

    python -m autograder grade PATH [--workers N] [--out DIR]   # a notebook, a submission folder or a class folder
    python -m autograder selfcheck [--lab LAB]                  # solutions score full marks, release stubs score 0
    python -m autograder build [--check] [--lab LAB]            # regenerate (or check) release/ and solutions/
    python -m autograder course-check                           # the instructor's "does my course work" run
    python -m autograder dist [LAB ...] --out DIR               # DIR/student (for students) + DIR/autograder
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from . import build as build_mod
from .feedback import feedback_text
from .runner import ExerciseResult, grade_notebook_file


def find_submissions(path: Path) -> list[tuple[str, Path]]:
    """(student, notebook) pairs: a notebook, a folder of notebooks, or a folder of student folders."""
    if path.is_file():
        if path.suffix != ".ipynb":
            raise SystemExit(f"error: {path} is not a notebook (.ipynb)")
        return [(path.parent.name or "student", path)]
    if not path.is_dir():
        raise SystemExit(f"error: {path} does not exist")
    own = sorted(p for p in path.glob("*.ipynb"))
    if own:
        return [(path.name, p) for p in own]
    pairs = []
    for student_dir in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        pairs += [(student_dir.name, nb) for nb in sorted(student_dir.rglob("*.ipynb"))
                  if ".ipynb_checkpoints" not in nb.parts]
    if not pairs:
        raise SystemExit(f"error: no notebooks under {path}")
    return pairs


def grade_many(pairs: list[tuple[str, Path]], workers: int, progress: bool = True) -> list[dict]:
    def one(pair):
        student, nb = pair
        try:
            results = grade_notebook_file(nb)
        except Exception as exc:  # an unreadable notebook scores 0, the class run goes on
            return [{"student": student, "notebook": str(nb), "grade_id": "*", "lab": "", "score": 0.0,
                     "max_points": 0.0, "error": f"{type(exc).__name__}: {exc}", "tests": [], "feedback": ""}]
        return [{"student": student, "notebook": str(nb), **r.to_dict(), "feedback": feedback_text(r)}
                for r in results]

    rows: list[dict] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for batch in tqdm(pool.map(one, pairs), total=len(pairs), desc="grading", unit="nb",
                          disable=not progress, file=sys.stderr):
            rows += batch
    return rows


def write_results(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "notebook", "grade_id", "score", "max_points", "sandboxed", "error"])
        for r in rows:
            w.writerow([r["student"], r["notebook"], r["grade_id"], r["score"], r["max_points"],
                        r.get("sandboxed", False), r["error"]])
    for student in sorted({r["student"] for r in rows}):
        text = "".join(r["feedback"] for r in rows if r["student"] == student)
        (out / f"feedback_{student}.txt").write_text(text)


def print_table(rows: list[dict], title: str = "") -> None:
    totals: dict[str, list[float]] = {}
    for r in rows:
        t = totals.setdefault(r["student"], [0.0, 0.0])
        t[0] += r["score"]
        t[1] += r["max_points"]
    if title:
        print(title)
    width = max([len(s) for s in totals] + [7])
    print(f"{'student':<{width}}  {'score':>8}  {'max':>6}  {'%':>6}")
    for student, (score, mx) in totals.items():
        pct = 100 * score / mx if mx else 0.0
        print(f"{student:<{width}}  {score:>8g}  {mx:>6g}  {pct:>5.1f}%")


def use_sandbox(args) -> bool:
    """Refuse to grade without the sandbox unless --no-sandbox was given (then say so loudly)."""
    from . import sandbox
    if getattr(args, "no_sandbox", False):
        os.environ[sandbox.NO_SANDBOX_ENV] = "1"
        print("warning: --no-sandbox: student code runs with your rights; results are marked unsandboxed",
              file=sys.stderr)
        return True
    try:
        sandbox.require()
    except sandbox.SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def cmd_grade(args) -> int:
    if not use_sandbox(args):
        return 2
    rows = grade_many(find_submissions(Path(args.path)), args.workers, progress=not args.quiet)
    if args.out:
        write_results(rows, Path(args.out))
    if args.verbose:
        for r in rows:
            print(r["feedback"] or f"{r['grade_id']}: {r['error']}")
    print_table(rows)
    return 0


def selfcheck(labs: list[str], workers: int = 2) -> tuple[list[dict], list[str]]:
    """Grade source notebooks (must be full marks) and release notebooks (must be 0)."""
    rows, problems = [], []
    for lab in labs:
        for kind, folder in (("solution", build_mod.SOURCE), ("stub", build_mod.RELEASE)):
            pairs = [(f"{lab}:{kind}", nb) for nb in sorted((folder / lab).glob("*.ipynb"))]
            for r in grade_many(pairs, workers, progress=False):
                rows.append(r)
                expected = r["max_points"] if kind == "solution" else 0.0
                if abs(r["score"] - expected) > 1e-9:
                    problems.append(f"{lab} {kind} {r['grade_id']}: scored {r['score']:g}, expected {expected:g}\n"
                                    + r["feedback"])
    return rows, problems


def cmd_selfcheck(args) -> int:
    if not use_sandbox(args):
        return 2
    labs = [args.lab] if args.lab else build_mod.labs()
    rows, problems = selfcheck(labs, args.workers)
    for r in rows:
        print(f"{r['student']:<45} {r['grade_id']:<32} {r['score']:>6g} / {r['max_points']:g}")
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    print(f"selfcheck: {len(rows)} exercise runs, {len(problems)} problems")
    return 1 if problems else 0


def cmd_build(args) -> int:
    problems = build_mod.build(check=args.check, lab=args.lab)
    for p in problems:
        print(p)
    if args.check:
        print("release/ and solutions/ are in sync with source/" if not problems else
              "out of sync: run `python -m autograder build`")
    return 1 if problems else 0


def cmd_course_check(args) -> int:
    from .course_check import course_check
    return course_check(workers=args.workers, keep=args.keep, only=args.lab)


def cmd_dist(args) -> int:
    from . import dist
    from .build import labs as all_labs
    from .labs import select_labs
    labs = select_labs(all_labs(), args.labs) if args.labs else None
    student, host = dist.build(labs, Path(args.out))
    count = len(list(student.rglob("*.ipynb")))
    print(f"{student}: {count} notebooks, labkit, published solutions; give this to students")
    print(f"{host}: graders, solutions, course config; keep this on the grading host")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grade", help="grade notebooks with the hidden graders (no nbgrader needed)")
    g.add_argument("path")
    g.add_argument("--workers", type=int, default=2)
    g.add_argument("--out", help="folder for results.json, results.csv and per-student feedback")
    g.add_argument("-v", "--verbose", action="store_true", help="print each exercise's feedback")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.add_argument("--no-sandbox", action="store_true",
                   help="local debugging only: run student code without the bubblewrap sandbox (results are marked)")
    g.set_defaults(func=cmd_grade)
    s = sub.add_parser("selfcheck", help="solutions must score full marks, release stubs 0")
    s.add_argument("--lab")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--no-sandbox", action="store_true", help="local debugging only (results are marked)")
    s.set_defaults(func=cmd_selfcheck)
    b = sub.add_parser("build", help="regenerate release/ and solutions/ from source/")
    b.add_argument("--check", action="store_true", help="only report what is out of sync")
    b.add_argument("--lab", help="only this lab's release/ (solutions/ is always regenerated)")
    b.set_defaults(func=cmd_build)
    c = sub.add_parser("course-check", help="build models and artefacts, autograde reference and blank "
                                            "submissions of every lab with nbgrader, print the grade table")
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--keep", help="keep the nbgrader course folder here (default: a temp dir)")
    c.add_argument("--lab", action="append", help="only this lab (a unique prefix is enough; repeatable)")
    c.set_defaults(func=cmd_course_check)
    d = sub.add_parser("dist", help="write DIR/student (what students get: no answers, no graders) and DIR/autograder")
    d.add_argument("labs", nargs="*", help="labs to include (unique prefixes; default: all)")
    d.add_argument("--out", required=True)
    d.set_defaults(func=cmd_dist)
    args = parser.parse_args(argv)
    return args.func(args)
