"""Speculative decoding on labkit.engine: measured speedup vs gamma, against the theory.

    python benchmarks/spec_decode.py [--gammas 1,2,3,4,5,6] [--num-prompts 8] [--max-tokens 128]
                                     [--batch-size 1] [--temperature 0] [--repeats 3] [--json out.json]

Workload: prompts cut from the course corpus (the text the tiny models were trained on), each
continued for ``--max-tokens`` tokens, ``--batch-size`` requests at a time (1 = the latency
regime where speculative decoding is meant to help). For every gamma the same workload runs
with the tiny draft proposing gamma tokens per step; plain decoding (no draft) is the baseline.
Runs are interleaved and the median over repeats of each configuration's total is reported. By
default (``--interleave batch``) every batch of prompts runs on all configurations in turn (the
starting configuration rotating from batch to batch) before the next batch, so that all of them
see the same load from whatever else runs on the machine; ``--interleave workload`` runs the
whole workload per configuration (plain, gamma 1, gamma 2, ..., plain, ...), the order used
before 2026-11-21 17:50 UTC, which on a busy shared box let one configuration's total catch a
quiet or a busy minute that another's missed.

Measured per gamma: the acceptance rate alpha (per-token, estimated as accepted / (accepted +
rejections)), tokens per target step, and the speedup over plain decoding. The cost ratio c is
the time of one draft proposal pass divided by the time of one plain engine step. Theory
(Leviathan et al. 2023): tokens per step (1 - alpha^(gamma+1)) / (1 - alpha) and speedup
(1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1)).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(REPO))


def corpus_prompts(tokenizer, n: int, length: int = 32) -> list[list[int]]:
    """n prompts of `length` tokens, from the start of corpus lines (English, then Chinese)."""
    from labkit._paths import DATA_DIR
    prompts = []
    for name in ("en.txt", "zh.txt"):
        for line in (DATA_DIR / "corpus" / name).read_text(encoding="utf-8").splitlines():
            ids = tokenizer(line)["input_ids"]
            if len(ids) >= length:
                prompts.append(ids[:length])
    step = max(1, len(prompts) // n)
    return prompts[::step][:n]


def timed_run(engine, prompts, params, batch_size: int) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and output tokens for the workload, batch_size requests at a time."""
    t0, c0 = time.perf_counter(), time.process_time()
    tokens = 0
    for i in range(0, len(prompts), batch_size):
        outs = engine.generate(prompts[i:i + batch_size], params)
        tokens += sum(len(o.token_ids) for o in outs)
    return time.perf_counter() - t0, time.process_time() - c0, tokens


def timed_interleaved(engines: dict, prompts, params, batch_size: int) -> dict:
    """The workload on every engine, one batch of prompts at a time on all of them in turn (the
    first engine rotating by batch); per engine (wall seconds, CPU seconds, output tokens)."""
    totals = {g: [0.0, 0.0, 0] for g in engines}
    order = list(engines)
    for b, i in enumerate(range(0, len(prompts), batch_size)):
        for g in order[b % len(order):] + order[:b % len(order)]:
            t0, c0 = time.perf_counter(), time.process_time()
            outs = engines[g].generate(prompts[i:i + batch_size], params)
            totals[g][0] += time.perf_counter() - t0
            totals[g][1] += time.process_time() - c0
            totals[g][2] += sum(len(o.token_ids) for o in outs)
    return {g: tuple(v) for g, v in totals.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gammas", default="1,2,3,4,5,6")
    ap.add_argument("--num-prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--interleave", choices=("batch", "workload"), default="batch",
                    help="run each batch of prompts on all configurations in turn (default), or the whole "
                         "workload per configuration (the order used before 2026-11-21)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest at batch 1)")
    ap.add_argument("--models", help="directory with target/ draft/ tokenizer/ (default: tiny_models())")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from labkit.engine import LLMEngine, SamplingParams, reference_parts
    torch.set_num_threads(args.threads)
    if args.models:
        root = Path(args.models)
        target, draft, tok_path = root / "target", root / "draft", root / "tokenizer"
    else:
        from labkit.models import tiny_models
        tm = tiny_models()
        target, draft, tok_path = tm.target, tm.draft, tm.tokenizer
    tokenizer = AutoTokenizer.from_pretrained(str(tok_path))
    prompts = corpus_prompts(tokenizer, args.num_prompts)
    gammas = [int(g) for g in args.gammas.split(",")]
    params = SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=0, ignore_eos=True)
    parts = reference_parts()

    engines = {0: LLMEngine(target, max_num_seqs=args.batch_size)}
    for g in gammas:
        engines[g] = LLMEngine(target, draft_model=draft, num_speculative_tokens=g, max_num_seqs=args.batch_size)
    for e in engines.values():  # warm-up
        e.generate(prompts[:1], SamplingParams(max_tokens=8, temperature=args.temperature, ignore_eos=True))
    steps_before = engines[0].num_steps
    for e in engines.values():
        if e.spec:
            e.spec.stats = type(e.spec.stats)()

    times = {g: [] for g in engines}
    cpu = {g: [] for g in engines}
    tokens = {}
    for r in range(args.repeats):
        if args.interleave == "batch":
            runs = timed_interleaved(engines, prompts, params, args.batch_size)
        else:
            runs = {g: timed_run(e, prompts, params, args.batch_size) for g, e in engines.items()}
        for g, (dt, dc, tokens[g]) in runs.items():
            times[g].append(dt)
            cpu[g].append(dc)
        print(f"repeat {r + 1}: " + ", ".join(f"gamma {g}: {times[g][-1]:.2f} s ({cpu[g][-1]:.2f} CPU-s)"
                                              for g in engines), flush=True)

    median = {g: statistics.median(v) for g, v in times.items()}
    median_cpu = {g: statistics.median(v) for g, v in cpu.items()}
    plain_tps = tokens[0] / median[0]
    plain_steps = engines[0].num_steps - steps_before
    target_step = sum(times[0]) / plain_steps              # seconds per plain engine step
    target_step_cpu = sum(cpu[0]) / plain_steps
    rows = []
    for g in gammas:
        st = engines[g].spec.stats
        alpha = st.alpha
        n = max(st.draft_decode_forwards, 1)
        c = st.draft_decode_seconds / n / target_step
        c_cpu = st.draft_decode_cpu_seconds / n / target_step_cpu
        speedup = (tokens[g] / median[g]) / plain_tps
        speedup_cpu = median_cpu[0] / median_cpu[g] * tokens[g] / tokens[0]
        expected = parts.expected_speedup(alpha, g, c)
        expected_cpu = parts.expected_speedup(alpha, g, c_cpu)
        rows.append({"gamma": g, "alpha": alpha, "acceptance_rate": st.acceptance_rate,
                     "tokens_per_step": st.mean_tokens_per_step,
                     "expected_tokens_per_step": parts.expected_tokens_per_step(alpha, g),
                     "c": c, "tokens_per_second": tokens[g] / median[g], "speedup": speedup,
                     "expected_speedup": expected, "fraction_of_expected": speedup / expected,
                     "c_cpu": c_cpu, "speedup_cpu": speedup_cpu, "expected_speedup_cpu": expected_cpu,
                     "fraction_of_expected_cpu": speedup_cpu / expected_cpu})

    print(f"\n{args.num_prompts} corpus prompts x {args.max_tokens} tokens, batch {args.batch_size}, "
          f"temperature {args.temperature}, torch threads {args.threads}; median of {args.repeats} repeats "
          f"(interleaved by {args.interleave}); plain decoding {plain_tps:.0f} tokens/s, {1e3 * target_step:.2f} ms per step")
    print(f"{'gamma':>5s} {'alpha':>6s} {'c':>6s} {'tok/step':>8s} {'(theory)':>8s} {'tokens/s':>8s} "
          f"{'speedup':>7s} {'(theory)':>8s} {'of theory':>9s}")
    for row in rows:
        print(f"{row['gamma']:5d} {row['alpha']:6.3f} {row['c']:6.3f} {row['tokens_per_step']:8.2f} "
              f"{row['expected_tokens_per_step']:8.2f} {row['tokens_per_second']:8.0f} {row['speedup']:6.2f}x "
              f"{row['expected_speedup']:7.2f}x {100 * row['fraction_of_expected']:8.0f}%")
    best = max(rows, key=lambda r: r["speedup"])
    print(f"best: gamma {best['gamma']}, {best['speedup']:.2f}x over plain decoding "
          f"({100 * best['fraction_of_expected']:.0f}% of the expected {best['expected_speedup']:.2f}x)")
    print("\nthe same in CPU time (what each run cost, whatever else ran on the machine):")
    print(f"{'gamma':>5s} {'c':>6s} {'speedup':>7s} {'(theory)':>8s} {'of theory':>9s}")
    for row in rows:
        print(f"{row['gamma']:5d} {row['c_cpu']:6.3f} {row['speedup_cpu']:6.2f}x {row['expected_speedup_cpu']:7.2f}x "
              f"{100 * row['fraction_of_expected_cpu']:8.0f}%")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
            "command": " ".join(["python", "benchmarks/spec_decode.py", *sys.argv[1:]]),
            "interleave": args.interleave,
            "target": str(target), "draft": str(draft), "plain_tokens_per_second": plain_tps,
            "plain_step_seconds": target_step, "times": {str(k): v for k, v in times.items()},
            "cpu_seconds": {str(k): v for k, v in cpu.items()}, "load_average": os.getloadavg(), "rows": rows,
        }, indent=2))


if __name__ == "__main__":
    main()
