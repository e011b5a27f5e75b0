"""``bench``: how fast the engine (reference parts) decodes on this device, for docs/benchmarks.md.

* Throughput: the throughput check's workload and protocol, engine vs transformers static batching.
* Roofline: a decode step must read every weight once and the whole KV cache of every sequence, so
  on a memory-bound device it cannot take less than ``bytes / bandwidth``. For batch sizes 1 and 64
  (by default) the engine decodes in steady state, and ``roofline fraction = (bytes / bandwidth) /
  measured step time``. Bandwidth: the device's nominal peak when its name is in ``PEAK_BANDWIDTH``,
  and the copy bandwidth measured here (read + write of a large buffer) in any case.

Writes ``bench.json`` and ``bench.md`` (a table to paste into docs/benchmarks.md with the date).
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

from .checks import Context
from .config import cuda_available, device_name, load_settings
from .throughput import measure, summarize
from .workload import synchronize

# Nominal HBM bandwidth in bytes/s (vendor data sheets), by a substring of torch's device name.
PEAK_BANDWIDTH = {"H200": 4.8e12, "H100 NVL": 3.9e12, "H100 PCIe": 2.0e12, "H100": 3.35e12,
                  "A100-SXM4-80GB": 2.039e12, "A100 80GB PCIe": 1.935e12, "A100": 1.555e12,
                  "L40S": 0.864e12, "L4": 0.3e12, "A10": 0.6e12, "RTX 4090": 1.008e12}


def nominal_bandwidth(name: str) -> float | None:
    return next((bw for key, bw in PEAK_BANDWIDTH.items() if key in name), None)


def copy_bandwidth(device, nbytes: int = 1 << 30, repeats: int = 10) -> float:
    """Bytes/s of a large device-to-device copy (each byte read once and written once)."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        dst.copy_(src)
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * nbytes / statistics.median(times)


def decode_step_bytes(runner, context_lengths: list[int]) -> int:
    """Bytes a decode step must read: all weights except the embedding table, plus each sequence's KV."""
    weights = [runner.norm, runner.lm_head] + [t for layer in runner.layers for t in vars(layer).values()
                                                if isinstance(t, torch.Tensor)]
    weight_bytes = sum(t.numel() * t.element_size() for t in weights)
    kv_per_token = 2 * runner.num_layers * runner.num_kv_heads * runner.head_dim * runner.kv_cache.element_size()
    return weight_bytes + kv_per_token * sum(context_lengths)


def decode_step_time(ctx: Context, batch: int, prompt_tokens: int, steps: int) -> dict:
    """Median seconds of one engine step with ``batch`` sequences decoding, and the bytes it must read."""
    from labkit.engine import SamplingParams
    block_size = 16
    per_seq = -(-(prompt_tokens + 2 * steps + 8) // block_size)
    engine = ctx.engine(max_num_seqs=batch, max_num_batched_tokens=max(2048, prompt_tokens),
                        num_blocks=batch * per_seq + 8, block_size=block_size)
    vocab = ctx.target().config.vocab_size
    gen = torch.Generator().manual_seed(0)
    for i in range(batch):
        prompt = torch.randint(4, vocab, (prompt_tokens,), generator=gen).tolist()
        engine.add_request(f"b{i}", prompt, SamplingParams(max_tokens=2 * steps + 4, temperature=0, ignore_eos=True))
    while engine.num_generated_tokens < batch:          # prefill everything, first tokens out
        engine.step()
    for _ in range(3):                                  # warm-up decode steps
        engine.step()
    times = []
    for _ in range(steps):
        synchronize(ctx.device)
        t0 = time.perf_counter()
        engine.step()
        synchronize(ctx.device)
        times.append(time.perf_counter() - t0)
    contexts = [len(s.token_ids) for s in engine.scheduler.running]
    if len(contexts) != batch:
        raise RuntimeError(f"expected {batch} running sequences, found {len(contexts)}")
    return {"batch": batch, "context_tokens": prompt_tokens, "step_seconds": statistics.median(times),
            "bytes": decode_step_bytes(engine.runner, contexts)}


def bench(out_dir, cpu: bool = False, batches=(1, 64), thresholds=None, prompt_tokens: int = 512,
          steps: int = 32) -> int:
    if not cpu and not cuda_available():
        print("bench: no CUDA device (blocked); add --cpu for a CPU run with the tiny model", file=sys.stderr)
        return 0
    mode = "cpu" if cpu else "gpu"
    settings = load_settings(mode, thresholds)
    if cpu:
        torch.set_num_threads(settings.get("threads", 1))
    ctx = Context(settings, parts=None, extras={})
    ctx.parts = ctx.reference_parts()
    name = device_name(mode)
    nominal = nominal_bandwidth(name) if mode == "gpu" else None
    measured_bw = copy_bandwidth(ctx.device, nbytes=(1 << 30) if mode == "gpu" else (1 << 27))
    summary = summarize(measure(ctx, {"reference": ctx.parts}))
    rows = []
    for b in batches:
        row = decode_step_time(ctx, b, prompt_tokens if mode == "gpu" else min(prompt_tokens, 128), steps)
        row["tokens_per_second"] = b / row["step_seconds"]
        for label, bw in (("nominal", nominal), ("measured_copy", measured_bw)):
            row[f"roofline_fraction_{label}"] = (row["bytes"] / bw) / row["step_seconds"] if bw else None
        rows.append(row)
    result = {"mode": mode, "device": name, "date": time.strftime("%Y-%m-%d"), "model": settings["model"],
              "num_layers": settings.get("num_layers"), "dtype": settings["dtype"],
              "command": f"python -m gpu_runner bench{' --cpu' if cpu else ''} --out {out_dir}",
              "nominal_bandwidth": nominal, "copy_bandwidth": measured_bw,
              "throughput": {**summary, "workload": settings["throughput"]}, "decode": rows}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out_dir / "bench.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    t = r["throughput"]
    tps, ratios = t["tokens_per_second"], t["ratios"]
    model = r["model"] + (f" ({r['num_layers']} layers, random weights)" if r["num_layers"] else "")
    bw = (f"nominal {r['nominal_bandwidth'] / 1e9:.0f} GB/s / " if r["nominal_bandwidth"] else "") + \
        f"measured copy {r['copy_bandwidth'] / 1e9:.0f} GB/s"
    lines = [f"Engine decode on {r['device']}, {r['date']}: {model}, {r['dtype']}; `{r['command']}`", "",
             f"Throughput workload ({t['workload']['num_requests']} requests, median of interleaved rounds): engine "
             f"{tps['reference']:.0f} tokens/s, transformers static batching {tps['transformers']:.0f} tokens/s: "
             f"**{ratios['reference_vs_transformers']:.2f}x**.", "",
             f"| decode batch | context | step (ms) | tokens/s | bytes read per step | roofline fraction ({bw}) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for row in r["decode"]:
        fractions = [f"{row[k]:.0%}" for k in ("roofline_fraction_nominal", "roofline_fraction_measured_copy")
                     if row[k] is not None]
        lines.append(f"| {row['batch']} | {row['context_tokens']} | {row['step_seconds'] * 1e3:.2f} | "
                     f"{row['tokens_per_second']:.0f} | {row['bytes'] / 1e9:.2f} GB | {' / '.join(fractions)} |")
    return "\n".join(lines) + "\n"
