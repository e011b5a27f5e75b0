"""Throughput: the submission's engine against two baselines measured in the same process and run.

* ``transformers``: ``generate`` in static batches (the classic serving loop);
* ``reference``: the same ``LLMEngine`` configuration built from the reference parts;
* ``submission``: that engine built from the student's parts.

Protocol (``interleaved``): each system runs a short warm-up, then ``repeats`` rounds in which every
system runs the whole workload once, in an order that rotates from round to round (so a slow phase of
the machine does not always hit the same system); the median round counts. Throughput = useful
output tokens / seconds (static batches also compute padding and tokens past a request's own
length; those are not counted). The thresholds are ratios of medians, so they mean the same on a
busy CPU and on an idle GPU.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

from .checks import CheckSpec, Context, Outcome
from .workload import hf_static_batches, long_tail_requests, run_requests, synchronize

SYSTEMS = ("transformers", "reference", "submission")
RATIOS = {"throughput_vs_reference": "reference", "throughput_vs_transformers": "transformers"}


def interleaved(systems: dict[str, Callable[[], object]], warmups: dict[str, Callable[[], object]],
                repeats: int, device="cpu") -> dict[str, list[float]]:
    """Seconds per round of each system: warm-up once, then ``repeats`` rotating rounds."""
    for name, warm in warmups.items():
        warm()
        synchronize(device)
    names = list(systems)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            synchronize(device)
            t0 = time.perf_counter()
            systems[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - t0)
    return times


def measure(ctx: Context, parts_by_system: dict) -> dict:
    """Times of transformers and of one engine per entry of ``parts_by_system`` (name -> EngineParts)."""
    s = ctx.settings["throughput"]
    target = ctx.target()
    requests = long_tail_requests(s, target.config.vocab_size, seed=ctx.seed)
    warm = [(p[:16], 4) for p, _ in requests[:s["warmup_requests"]]]
    engine_kw = {k: s[k] for k in ("max_num_seqs", "max_num_batched_tokens", "num_blocks")}
    engines = {name: ctx.engine(parts=parts, **engine_kw) for name, parts in parts_by_system.items()}
    lengths: dict[str, list[int]] = {}

    def engine_run(name, reqs):
        outputs = run_requests(engines[name], reqs)
        lengths[name] = [len(o) for o in outputs]

    systems = {"transformers": lambda: hf_static_batches(target, requests, s["hf_batch_size"])}
    warmups = {"transformers": lambda: hf_static_batches(target, warm, s["hf_batch_size"])}
    for name in engines:
        systems[name] = lambda name=name: engine_run(name, requests)
        warmups[name] = lambda name=name: engine_run(name, warm)
    times = interleaved(systems, warmups, s["repeats"], ctx.device)
    wanted = [n for _, n in requests]
    return {"times": times, "useful_tokens": sum(wanted), "num_requests": len(requests),
            "wrong_lengths": {name: sum(a != b for a, b in zip(got, wanted)) for name, got in lengths.items()},
            "engine": engine_kw, "hf_batch_size": s["hf_batch_size"], "repeats": s["repeats"]}


def _run(ctx: Context) -> dict:
    return measure(ctx, {"reference": ctx.reference_parts(), "submission": ctx.parts})


def summarize(metrics: dict) -> dict:
    """Median seconds, tokens/s and ratios to each baseline (computed in the parent)."""
    median = {k: statistics.median(v) for k, v in metrics["times"].items()}
    tps = {k: metrics["useful_tokens"] / v for k, v in median.items()}
    ratios = {entry: tps["submission"] / tps[base] for entry, base in RATIOS.items() if "submission" in tps}
    ratios["reference_vs_transformers"] = tps.get("reference", 0.0) / tps["transformers"]
    return {"median_seconds": median, "tokens_per_second": tps, "ratios": ratios}


def _judge(metrics: dict, settings: dict) -> list[Outcome]:
    thresholds = settings["throughput"]["thresholds"]
    summary = summarize(metrics)
    tps = summary["tokens_per_second"]
    details = {**metrics, **summary}
    outcomes = []
    for entry, base in RATIOS.items():
        ratio, limit = summary["ratios"][entry], thresholds[entry]
        text = (f"{tps['submission']:.0f} tokens/s = {ratio:.2f}x {base} ({tps[base]:.0f} tokens/s); "
                f"threshold {limit:g}x")
        status = "passed" if ratio >= limit else "failed"
        if metrics["wrong_lengths"].get("submission"):
            status, text = "failed", (f"{metrics['wrong_lengths']['submission']} requests produced the wrong number "
                                      "of tokens in the throughput workload; " + text)
        outcomes.append(Outcome(entry, "performance", status, text, measured=ratio, threshold=limit,
                                better="higher", details=details))
    return outcomes


THROUGHPUT = CheckSpec("throughput", "performance", ("block_manager", "kv_cache_size", "scheduler_step"), _run,
                       _judge, entries=tuple(RATIOS),
                       summary="engine tokens/s as a ratio to the reference parts and to transformers static batching")
