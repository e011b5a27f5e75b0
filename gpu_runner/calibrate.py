"""``calibrate``: where the throughput thresholds should sit, from measurements on this machine.

Runs the throughput check ``rounds`` times for the reference parts and for each deliberately slow
but correct variant under ``gpu_runner/calibration/``, and prints (and writes to
``calibration.json`` / ``calibration.md``) the ratios each one reached, the thresholds in force, and
the margins: the reference's lowest ratio over the threshold, the threshold over each slow
variant's highest ratio. A good ``throughput_vs_reference`` threshold leaves both margins
comfortably above 1; the suggestion is the geometric mean of the reference's lowest and the
slow variants' highest ratio.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from .config import cuda_available, device_name, load_settings
from .sandbox import REPO_ROOT, run_checks
from .throughput import RATIOS, summarize

CALIBRATION_DIR = Path(__file__).with_name("calibration")
ENGINE_EXERCISES = ("block_manager", "kv_cache_size", "scheduler_step")


def implementations() -> dict[str, dict[str, str]]:
    """name -> the exercise files it consists of (the reference, then each slow variant)."""
    reference = {e: str(next((REPO_ROOT / "solutions").glob(f"*/{e}.py"))) for e in ENGINE_EXERCISES}
    out = {"reference": reference}
    for folder in sorted(p for p in CALIBRATION_DIR.iterdir() if p.is_dir()):
        out[folder.name] = {p.stem: str(p) for p in folder.glob("*.py")}
    return out


def calibrate(out_dir: str | Path, cpu: bool = False, rounds: int = 3, thresholds=None) -> int:
    if not cpu and not cuda_available():
        print("calibrate: no CUDA device (blocked); add --cpu to calibrate the CPU thresholds", file=sys.stderr)
        return 0
    mode = "cpu" if cpu else "gpu"
    settings = load_settings(mode, thresholds)
    out_dir = Path(out_dir)
    ratios: dict[str, dict[str, list[float]]] = {}
    tps: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, files in implementations().items():
            timeouts = settings["timeouts"]
            ran = run_checks(["throughput"], {"settings": settings, "files": files}, timeouts, timeouts["startup"],
                             out_dir / "work" / name, threads=settings.get("threads") if mode == "cpu" else None)
            result = ran.results.get("throughput", {})
            problem = ran.failures.get("throughput") or result.get("error")
            if problem:
                print(f"calibrate: {name}: {problem}\n{ran.output[-2000:]}", file=sys.stderr)
                return 1
            summary = summarize(result["metrics"])
            for key, value in summary["ratios"].items():
                ratios.setdefault(name, {}).setdefault(key, []).append(value)
            tps.setdefault(name, []).append(summary["tokens_per_second"]["submission"])
            print(f"round {r + 1} {name:18s} " + "  ".join(f"{k} {v:.2f}" for k, v in summary["ratios"].items())
                  + f"  ({ran.seconds['throughput']:.0f} s)", flush=True)
    result = {"mode": mode, "device": device_name(mode), "date": time.strftime("%Y-%m-%d"), "rounds": rounds,
              "command": f"python -m gpu_runner calibrate{' --cpu' if cpu else ''} --rounds {rounds} --out {out_dir}",
              "workload": settings["throughput"], "ratios": ratios, "submission_tokens_per_second": tps,
              "thresholds": {}}
    for entry in RATIOS:
        ref_low = min(ratios["reference"][entry])
        limit = settings["throughput"]["thresholds"][entry]
        slow = {k: max(v[entry]) for k, v in ratios.items() if k != "reference"}
        slow_high = max(slow.values(), default=0.0)
        result["thresholds"][entry] = {
            "threshold": limit, "reference_lowest": ref_low, "reference_margin": ref_low / limit,
            "slow_highest": slow, "slow_margin": {k: limit / v for k, v in slow.items()},
            "suggested": (ref_low * slow_high) ** 0.5 if 0 < slow_high < ref_low else None}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calibration.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out_dir / "calibration.md").write_text(markdown(result), encoding="utf-8")
    print("\n" + markdown(result))
    return 0


def markdown(result: dict) -> str:
    entries = list(result["thresholds"])
    lines = [f"Calibration ({result['mode']} mode, {result['device']}, {result['date']}): "
             f"`{result['command']}`", "",
             "| implementation | " + " | ".join(f"{e} (median; all rounds)" for e in entries) + " |",
             "|---|" + "---:|" * len(entries)]
    for name, by_entry in result["ratios"].items():
        cells = [f"{statistics.median(by_entry[e]):.2f} ({', '.join(f'{v:.2f}' for v in by_entry[e])})"
                 for e in entries]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| threshold | value | reference lowest (margin) | slow variants highest (margin) | suggested |",
              "|---|---:|---:|---|---:|"]
    for e, t in result["thresholds"].items():
        slow = ", ".join(f"{k} {v:.2f} ({t['slow_margin'][k]:.2f}x{'' if v < t['threshold'] else ', PASSES'})"
                         for k, v in t["slow_highest"].items())
        suggested = f"{t['suggested']:.2f}" if t["suggested"] else "-"
        lines.append(f"| {e} | {t['threshold']:g} | {t['reference_lowest']:.2f} ({t['reference_margin']:.2f}x) | "
                     f"{slow} | {suggested} |")
    lines += ["", "Margins: reference lowest / threshold, and threshold / variant highest (both should be well "
              "above 1 for throughput_vs_reference). A slow variant only has to fail one of the two thresholds."]
    return "\n".join(lines) + "\n"
