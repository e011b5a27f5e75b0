# Generated from source/lab2_2_inference_optimization/04-Comprehensive_Optimization.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb04 ---
# Shared by the exercises of this notebook: plain Python (no torch, no model). The memory helpers below
# ARE the rules' arithmetic: use them, so that "fits" means exactly the same thing everywhere.
import math

from labkit.earlier_labs import earlier_part

# the Lab 2.1 formula: the course's reference once Lab 2.1 is published (and when graded), else your own
kv_cache_bytes = earlier_part("lab2_1_vllm_deployment", "kv_cache_size", "kv_cache_bytes")

GIB = 2**30
GPU_MEMORY_UTILIZATION = 0.9            # fraction of each GPU's memory the engine may use (vLLM's default)
BYTES_PER_PARAM = {"fp16": 2, "fp8": 1, "int8": 1, "int4-awq": 0.5}
MAX_NUM_SEQS_CAP = 256                  # vLLM's default max_num_seqs
PREFIX_CACHING_MIN_FRACTION = 0.2       # rule 4
SPECULATIVE_MAX_CONCURRENCY = 4         # rule 5


def usable_bytes(gpu_memory_gib, tensor_parallel_size=1):
    """Bytes the engine may use on `tensor_parallel_size` GPUs of `gpu_memory_gib` GiB each (integer)."""
    return tensor_parallel_size * (int(gpu_memory_gib * GIB) * 9 // 10)


def weight_bytes(model_params_b, weight_dtype):
    """Bytes of the weights of a model of `model_params_b` billion parameters stored as `weight_dtype`."""
    params = round(model_params_b * 1e9)
    return math.ceil(params * BYTES_PER_PARAM[weight_dtype])

# --- cell: pareto_front ---
def pareto_front(results):
    """Names of the configurations no other configuration beats on both latency and throughput.

    `results`: a list of dicts with "name" (str), "latency_ms" (number >= 0, lower is better) and
    "throughput" (number >= 0, higher is better). `b` dominates `a` when b.latency_ms <= a.latency_ms and
    b.throughput >= a.throughput and at least one of the two is strictly better. Returns the names of the
    non-dominated entries sorted by latency_ms ascending (ties: throughput descending, then name).
    Raises ValueError on a missing key, a negative or non-finite number, or a duplicate name.
    """
    seen = set()
    for r in results:
        for key in ("name", "latency_ms", "throughput"):
            if key not in r:
                raise ValueError(f"result {r!r} has no {key!r}")
        for key in ("latency_ms", "throughput"):
            v = r[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{key} of {r['name']!r} must be a finite number >= 0, got {v!r}")
        if r["name"] in seen:
            raise ValueError(f"duplicate name {r['name']!r}")
        seen.add(r["name"])

    def dominates(b, a):
        return (b["latency_ms"] <= a["latency_ms"] and b["throughput"] >= a["throughput"]
                and (b["latency_ms"] < a["latency_ms"] or b["throughput"] > a["throughput"]))

    front = [a for a in results if not any(dominates(b, a) for b in results)]
    front.sort(key=lambda r: (r["latency_ms"], -r["throughput"], r["name"]))
    return [r["name"] for r in front]
