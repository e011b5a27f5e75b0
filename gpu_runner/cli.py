"""Command line: ``run`` (grade a submission), ``calibrate`` (thresholds), ``bench`` (engine on the device)."""
from __future__ import annotations

import argparse
import sys


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpu", action="store_true",
                   help="run the tiny-model CPU versions of the checks with the CPU thresholds (labelled CPU mode)")
    p.add_argument("--thresholds", help="settings file (default: gpu_runner/thresholds.toml)")
    p.add_argument("--out", required=True, help="folder for the reports")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gpu_runner", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="grade one submission (exit status 1 if a check failed)")
    run.add_argument("--submission", required=True,
                     help="a notebook, or a folder of notebooks and/or exercise .py files (searched recursively)")
    run.add_argument("--lab", action="append", help="grade only this lab (repeatable; a unique prefix is enough)")
    run.add_argument("--check", action="append", help="run only this check or report line (repeatable)")
    run.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every check's time limit")
    _add_common(run)

    cal = sub.add_parser("calibrate", help="measure the throughput ratios of the reference and of slow variants")
    cal.add_argument("--rounds", type=int, default=3, help="independent measurements per implementation")
    _add_common(cal)

    bench = sub.add_parser("bench", help="engine decode throughput, ratio to transformers, roofline fraction")
    bench.add_argument("--batch", type=int, action="append", help="decode batch sizes (default: 1 and 64)")
    _add_common(bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from .runner import run
        try:
            report = run(args.submission, args.out, labs=args.lab, cpu=args.cpu, only=args.check,
                         thresholds=args.thresholds, timeout_scale=args.timeout_scale)
        except ValueError as exc:   # a bad --lab / --check value
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 1 if report["status"] == "failed" else 0
    if args.command == "calibrate":
        from .calibrate import calibrate
        return calibrate(args.out, cpu=args.cpu, rounds=args.rounds, thresholds=args.thresholds)
    from .roofline import bench
    return bench(args.out, cpu=args.cpu, batches=args.batch or [1, 64], thresholds=args.thresholds)
