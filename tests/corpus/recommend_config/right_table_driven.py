# table-driven: candidate (dtype, tp) pairs listed up front, lookup tables for gamma; own KV formula, integer math
_RULES = {
    "precisions": {"strict": ("fp16",), "moderate": ("fp16", "q8"), "relaxed": ("fp16", "q8", "int4-awq")},
    "gamma": {1: 5, 2: 3, 3: 3, 4: 3},
}
_INTS = ("num_gpus", "num_layers", "num_kv_heads", "head_dim", "context_len", "concurrency")
_CHOICES = {"priority": ("latency", "throughput"), "quality_tolerance": ("strict", "moderate", "relaxed")}


def _check(s):
    if type(s) is not dict:
        raise ValueError("scenario must be a dict")
    need = set(_INTS) | set(_CHOICES) | {"gpu_memory_gib", "model_params_b", "shared_prefix_fraction",
                                         "fp8_supported", "has_draft_model"}
    missing = sorted(need - set(s))
    if missing:
        raise ValueError(f"missing keys: {missing}")
    for k in _INTS:
        if type(s[k]) is not int or s[k] < 1:
            raise ValueError(f"{k} must be an int >= 1, got {s[k]!r}")
    for k in ("gpu_memory_gib", "model_params_b"):
        if type(s[k]) not in (int, float) or not (0 < s[k] < float("inf")):
            raise ValueError(f"{k} must be a positive number, got {s[k]!r}")
    if type(s["shared_prefix_fraction"]) not in (int, float) or not (0 <= s["shared_prefix_fraction"] <= 1):
        raise ValueError(f"shared_prefix_fraction must be in [0, 1], got {s['shared_prefix_fraction']!r}")
    for k, allowed in _CHOICES.items():
        if not isinstance(s[k], str) or s[k] not in allowed:
            raise ValueError(f"{k} must be one of {allowed}, got {s[k]!r}")
    for k in ("fp8_supported", "has_draft_model"):
        if type(s[k]) is not bool:
            raise ValueError(f"{k} must be a bool, got {s[k]!r}")


def recommend_config(scenario):
    _check(scenario)
    s = scenario
    per_token = 2 * s["num_layers"] * s["num_kv_heads"] * s["head_dim"]      # elements of K and V per token
    kv16 = per_token * s["context_len"] * 2
    q8 = "fp8" if s["fp8_supported"] else "int8"
    candidates = [(q8 if d == "q8" else d, tp) for d in _RULES["precisions"][s["quality_tolerance"]]
                  for tp in (1, 2, 4, 8) if tp <= s["num_gpus"]]
    fitting = [(d, tp) for d, tp in candidates
               if weight_bytes(s["model_params_b"], d) + kv16 <= usable_bytes(s["gpu_memory_gib"], tp)]
    if not fitting:
        raise ValueError("no allowed precision fits on the available GPUs")
    dtype, tp = fitting[0]
    free = usable_bytes(s["gpu_memory_gib"], tp) - weight_bytes(s["model_params_b"], dtype)
    fp8_kv = s["quality_tolerance"] in ("moderate", "relaxed") and s["concurrency"] * kv16 > free
    per_seq = kv16 // 2 if fp8_kv else kv16
    spec = s["has_draft_model"] and s["priority"] == "latency" and s["concurrency"] in _RULES["gamma"]
    return dict(weight_dtype=dtype, tensor_parallel_size=tp, kv_cache_dtype="fp8" if fp8_kv else "auto",
                max_num_seqs=min(256, free // per_seq), enable_prefix_caching=s["shared_prefix_fraction"] >= 0.2,
                speculative=spec, num_speculative_tokens=_RULES["gamma"][s["concurrency"]] if spec else 0)
