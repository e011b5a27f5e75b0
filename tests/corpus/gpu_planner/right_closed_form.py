# candidates from the bit tricks of powers of two; per-GPU terms computed without kv_cache_bytes
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
    g = math.gcd(preset.num_attention_heads, preset.num_key_value_heads)
    largest = g & -g                                   # the largest power of two dividing both head counts
    return [1 << k for k in range(0, 31) if (1 << k) <= min(largest, max_tensor_parallel)]


def plan_deployment(preset, *, gpu_memory_gib, weight_dtype, context_len, concurrency, kv_dtype_bytes=2,
                    block_size=16, max_tensor_parallel=8):
    if concurrency < 1 or context_len < 1:
        raise ValueError("concurrency and context_len must be >= 1")
    usable = usable_bytes(gpu_memory_gib)
    blocks = math.ceil(context_len / block_size)
    total_w = weight_bytes(preset, weight_dtype)
    for tp in valid_tensor_parallel(preset, max_tensor_parallel):
        w = (total_w + tp - 1) // tp
        act = activation_bytes(preset, tp)
        kv = (2 * preset.num_layers * (preset.num_key_value_heads // tp) * preset.head_dim * block_size * blocks
              * kv_dtype_bytes)
        seqs = max(0, usable - w - act) // kv
        if seqs:
            replicas = math.ceil(concurrency / seqs)
            return dict(tensor_parallel=tp, replicas=replicas, gpus=tp * replicas, max_seqs_per_replica=seqs,
                        weights_per_gpu=w, activation_per_gpu=act, kv_per_seq_per_gpu=kv, usable_per_gpu=usable)
    raise ValueError("does not fit")
