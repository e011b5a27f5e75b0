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

# --- cell: recommend_config ---
SCENARIO_KEYS = {
    # key: (kind, check, description)
    "gpu_memory_gib": "number > 0",
    "num_gpus": "int >= 1",
    "model_params_b": "number > 0",
    "num_layers": "int >= 1",
    "num_kv_heads": "int >= 1",
    "head_dim": "int >= 1",
    "context_len": "int >= 1",
    "concurrency": "int >= 1",
    "shared_prefix_fraction": "number in [0, 1]",
    "priority": "'latency' or 'throughput'",
    "quality_tolerance": "'strict', 'moderate' or 'relaxed'",
    "fp8_supported": "bool",
    "has_draft_model": "bool",
}


def recommend_config(scenario):
    """Serving settings for a workload `scenario` (a dict with the keys of SCENARIO_KEYS), by rules 0-5.

    Returns a dict: weight_dtype, tensor_parallel_size, kv_cache_dtype, max_num_seqs,
    enable_prefix_caching, speculative, num_speculative_tokens. Raises ValueError on a bad scenario
    or when no allowed precision fits on the GPUs.
    """
    # Rule 0: validate
    if not isinstance(scenario, dict):
        raise ValueError(f"scenario must be a dict, got {type(scenario).__name__}")
    for key, spec in SCENARIO_KEYS.items():
        if key not in scenario:
            raise ValueError(f"scenario is missing {key!r} ({spec})")
        v = scenario[key]
        if spec.startswith("int"):
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= 1
        elif spec == "number > 0":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
        elif spec.startswith("number in"):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1
        elif spec == "bool":
            ok = isinstance(v, bool)
        elif key == "priority":
            ok = v in ("latency", "throughput")
        else:
            ok = v in ("strict", "moderate", "relaxed")
        if not ok:
            raise ValueError(f"scenario[{key!r}] must be {spec}, got {v!r}")
    s = scenario

    # Rule 1: the highest allowed precision that fits, on the fewest GPUs
    eight_bit = "fp8" if s["fp8_supported"] else "int8"
    dtypes = {"strict": ["fp16"], "moderate": ["fp16", eight_bit],
              "relaxed": ["fp16", eight_bit, "int4-awq"]}[s["quality_tolerance"]]
    tps = [tp for tp in (1, 2, 4, 8) if tp <= s["num_gpus"]]
    shape = (s["num_layers"], s["num_kv_heads"], s["head_dim"], s["context_len"])
    kv_one = kv_cache_bytes(*shape, batch_size=1, dtype_bytes=2)
    choice = next(((d, tp) for d in dtypes for tp in tps
                   if weight_bytes(s["model_params_b"], d) + kv_one <= usable_bytes(s["gpu_memory_gib"], tp)), None)
    if choice is None:
        raise ValueError(f"the model does not fit: {s['model_params_b']}B parameters in {dtypes[-1]} plus one "
                         f"{s['context_len']}-token sequence of KV cache exceed {len(tps) and tps[-1]} x "
                         f"{s['gpu_memory_gib']} GiB at utilization {GPU_MEMORY_UTILIZATION}")
    dtype, tp = choice
    free = usable_bytes(s["gpu_memory_gib"], tp) - weight_bytes(s["model_params_b"], dtype)

    # Rule 2: fp8 KV cache when the wanted concurrency does not fit in fp16 (and quality allows it)
    kv_fp8 = s["quality_tolerance"] != "strict" and s["concurrency"] * kv_one > free
    # Rule 3: as many full-length sequences as the free memory holds, at most 256
    kv_seq = kv_cache_bytes(*shape, batch_size=1, dtype_bytes=1 if kv_fp8 else 2)
    max_num_seqs = min(MAX_NUM_SEQS_CAP, free // kv_seq)
    # Rule 4: prefix caching pays off only with a shared prefix
    prefix = s["shared_prefix_fraction"] >= PREFIX_CACHING_MIN_FRACTION
    # Rule 5: speculative decoding for latency at small batch, with a draft model
    spec = s["has_draft_model"] and s["priority"] == "latency" and s["concurrency"] <= SPECULATIVE_MAX_CONCURRENCY
    gamma = (5 if s["concurrency"] == 1 else 3) if spec else 0
    return {"weight_dtype": dtype, "tensor_parallel_size": tp, "kv_cache_dtype": "fp8" if kv_fp8 else "auto",
            "max_num_seqs": int(max_num_seqs), "enable_prefix_caching": prefix, "speculative": spec,
            "num_speculative_tokens": gamma}
