"""How long grading takes: one submission per lab, and a class of N with 1 vs 2 workers.

    python benchmarks/grading.py [--class-size 30] [--class-labs LAB ...] [--json out.json]

One submission is timed for every lab; the class of N (1 vs 2 workers) for --class-labs (default: the first lab),
since a class run costs N x (1 + 1/2) times a submission.

A "submission" is the lab's notebooks; the class alternates reference (source/) and blank (release/)
submissions so both fast (stub) and full grading paths are exercised. Hidden graders only: no notebook
execution (that is nbgrader's part and depends on the notebook, not on the grader).
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

from autograder import build
from autograder.cli import grade_many


def submission_pairs(lab: str, student: str, kind: str) -> list[tuple[str, Path]]:
    folder = (build.SOURCE if kind == "reference" else build.RELEASE) / lab
    return [(student, nb) for nb in sorted(folder.glob("*.ipynb"))]


def timed(pairs, workers: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    rows = grade_many(pairs, workers, progress=False)
    return time.perf_counter() - t0, sum(r["score"] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--class-size", type=int, default=30)
    ap.add_argument("--class-labs", nargs="*", help="labs to time a whole class on (default: the first lab)")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {"machine": f"{platform.machine()} {platform.processor() or ''} {__import__('os').cpu_count()} cores",
               "labs": {}}
    print(f"{'lab':<32} {'one submission (s)':>18} {'class 1 worker (s)':>18} {'class 2 workers (s)':>19} {'speedup':>8}")
    class_labs = args.class_labs if args.class_labs is not None else build.labs()[:1]
    for lab in build.labs():
        one, _ = timed(submission_pairs(lab, "ref", "reference"), workers=1)
        if lab not in class_labs:
            results["labs"][lab] = {"one_submission_s": one}
            print(f"{lab:<32} {one:>18.1f} {'-':>18} {'-':>19} {'-':>8}", flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            pairs = []
            for i in range(args.class_size):
                kind = "reference" if i % 2 == 0 else "blank"
                for student, nb in submission_pairs(lab, f"s{i:02d}", kind):
                    dest = Path(tmp) / student / nb.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(nb, dest)
                    pairs.append((student, dest))
            t1, s1 = timed(pairs, workers=1)
            t2, s2 = timed(pairs, workers=2)
        assert s1 == s2, "scores differ between 1 and 2 workers"
        results["labs"][lab] = {"one_submission_s": one, "class_size": args.class_size,
                                "class_1_worker_s": t1, "class_2_workers_s": t2}
        print(f"{lab:<32} {one:>18.1f} {t1:>18.1f} {t2:>19.1f} {t1 / t2:>7.2f}x", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
