# replicas rounded down (fewer GPUs than the concurrency needs)
"""Plan the GPUs for serving a model: tensor-parallel degree, replicas, concurrency per replica.

`plan_deployment(preset, *, gpu_memory_gib, weight_dtype, context_len, concurrency, kv_dtype_bytes=2,
block_size=16, max_tensor_parallel=8)` returns a dict of plain ints, computed by these rules:

1. Candidate tensor-parallel degrees `tp`: 1, 2, 4, 8, ... (powers of two) up to max_tensor_parallel that
   divide BOTH preset.num_attention_heads and preset.num_key_value_heads (each GPU gets whole heads).
2. For a candidate `tp`, ONE GPU holds:
   * weights_per_gpu = ceil(weight_bytes(preset, weight_dtype) / tp)
   * activation_per_gpu = activation_bytes(preset, tp)
   * per sequence of `context_len` tokens, kv_per_seq_per_gpu = kv_cache_bytes(preset.num_layers,
     preset.num_key_value_heads // tp, preset.head_dim, ceil(context_len / block_size) * block_size,
     dtype_bytes=kv_dtype_bytes) (whole blocks; the KV heads are split across the ranks)
   * max_seqs_per_replica = (usable_bytes(gpu_memory_gib) - weights_per_gpu - activation_per_gpu)
     // kv_per_seq_per_gpu, or 0 when that free memory is negative.
3. The plan uses the SMALLEST candidate `tp` with max_seqs_per_replica >= 1 (a replica is `tp` GPUs).
   `ValueError` when no candidate fits (or for concurrency < 1 / context_len < 1).
4. replicas = ceil(concurrency / max_seqs_per_replica); gpus = replicas * tp.

Keys of the result: "tensor_parallel", "replicas", "gpus", "max_seqs_per_replica", "weights_per_gpu",
"activation_per_gpu", "kv_per_seq_per_gpu", "usable_per_gpu".
"""


def valid_tensor_parallel(preset, max_tensor_parallel=8):
    """The candidate tp degrees of rule 1, ascending."""
    out, tp = [], 1
    while tp <= max_tensor_parallel:
        if preset.num_attention_heads % tp == 0 and preset.num_key_value_heads % tp == 0:
            out.append(tp)
        tp *= 2
    return out


def plan_deployment(preset, *, gpu_memory_gib, weight_dtype, context_len, concurrency, kv_dtype_bytes=2,
                    block_size=16, max_tensor_parallel=8):
    if concurrency < 1 or context_len < 1:
        raise ValueError(f"concurrency and context_len must be >= 1, got {concurrency}, {context_len}")
    usable = usable_bytes(gpu_memory_gib)
    tokens = -(-context_len // block_size) * block_size
    for tp in valid_tensor_parallel(preset, max_tensor_parallel):
        weights = -(-weight_bytes(preset, weight_dtype) // tp)
        act = activation_bytes(preset, tp)
        kv = kv_cache_bytes(preset.num_layers, preset.num_key_value_heads // tp, preset.head_dim, tokens,
                            dtype_bytes=kv_dtype_bytes)
        free = usable - weights - act
        seqs = free // kv if free > 0 else 0
        if seqs >= 1:
            replicas = max(1, concurrency // seqs)
            return {"tensor_parallel": tp, "replicas": replicas, "gpus": replicas * tp,
                    "max_seqs_per_replica": int(seqs), "weights_per_gpu": int(weights), "activation_per_gpu": int(act),
                    "kv_per_seq_per_gpu": int(kv), "usable_per_gpu": int(usable)}
    raise ValueError(f"{preset.name} ({weight_dtype}, context {context_len}) does not fit on "
                     f"{max_tensor_parallel} GPUs of {gpu_memory_gib} GiB")
