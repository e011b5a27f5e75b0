# plain if/else with early returns and explicit loops; uses kv_cache_bytes from the setup cell
import numbers


def _number(name, v, low, low_inclusive, high=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or v != v:
        raise ValueError(f"{name} must be a number, got {v!r}")
    if (v < low) if low_inclusive else (v <= low):
        raise ValueError(f"{name}={v!r} is too small")
    if high is not None and v > high:
        raise ValueError(f"{name}={v!r} is too large")
    if v == float("inf"):
        raise ValueError(f"{name} must be finite")


def recommend_config(scenario):
    if not isinstance(scenario, dict):
        raise ValueError("scenario must be a dict")
    for key in ("gpu_memory_gib", "num_gpus", "model_params_b", "num_layers", "num_kv_heads", "head_dim",
                "context_len", "concurrency", "shared_prefix_fraction", "priority", "quality_tolerance",
                "fp8_supported", "has_draft_model"):
        if key not in scenario:
            raise ValueError(f"missing key {key}")
    s = scenario
    _number("gpu_memory_gib", s["gpu_memory_gib"], 0, False)
    _number("model_params_b", s["model_params_b"], 0, False)
    _number("shared_prefix_fraction", s["shared_prefix_fraction"], 0, True, 1)
    for key in ("num_gpus", "num_layers", "num_kv_heads", "head_dim", "context_len", "concurrency"):
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{key} must be a positive int, got {v!r}")
    if s["priority"] not in ("latency", "throughput"):
        raise ValueError(f"unknown priority {s['priority']!r}")
    if s["quality_tolerance"] not in ("strict", "moderate", "relaxed"):
        raise ValueError(f"unknown quality_tolerance {s['quality_tolerance']!r}")
    if not isinstance(s["fp8_supported"], bool) or not isinstance(s["has_draft_model"], bool):
        raise ValueError("fp8_supported and has_draft_model must be bools")

    if s["quality_tolerance"] == "strict":
        precisions = ["fp16"]
    elif s["quality_tolerance"] == "moderate":
        precisions = ["fp16", "fp8" if s["fp8_supported"] else "int8"]
    else:
        precisions = ["fp16", "fp8" if s["fp8_supported"] else "int8", "int4-awq"]
    kv1 = kv_cache_bytes(s["num_layers"], s["num_kv_heads"], s["head_dim"], s["context_len"])
    dtype = tp = None
    for p in precisions:
        tp_try = 1
        while tp_try <= min(8, s["num_gpus"]):
            if weight_bytes(s["model_params_b"], p) + kv1 <= usable_bytes(s["gpu_memory_gib"], tp_try):
                dtype, tp = p, tp_try
                break
            tp_try *= 2
        if dtype is not None:
            break
    if dtype is None:
        raise ValueError("the model does not fit in any allowed precision")
    free = usable_bytes(s["gpu_memory_gib"], tp) - weight_bytes(s["model_params_b"], dtype)
    if s["quality_tolerance"] != "strict" and s["concurrency"] * kv1 > free:
        kv_dtype, per_seq = "fp8", kv_cache_bytes(s["num_layers"], s["num_kv_heads"], s["head_dim"],
                                                  s["context_len"], dtype_bytes=1)
    else:
        kv_dtype, per_seq = "auto", kv1
    n = free // per_seq
    if n > 256:
        n = 256
    if s["has_draft_model"] and s["priority"] == "latency" and s["concurrency"] <= 4:
        spec, gamma = True, 5 if s["concurrency"] == 1 else 3
    else:
        spec, gamma = False, 0
    return {"weight_dtype": dtype, "tensor_parallel_size": tp, "kv_cache_dtype": kv_dtype, "max_num_seqs": n,
            "enable_prefix_caching": not s["shared_prefix_fraction"] < 0.2, "speculative": spec,
            "num_speculative_tokens": gamma}
