# integer arithmetic: the usable bytes are floored first (int() of the product), then integer division
def num_kv_blocks(total_memory_bytes, gpu_memory_utilization, weights_bytes, activation_peak_bytes,
                  block_size, num_layers, num_kv_heads, head_dim, dtype_bytes=2) -> int:
    if gpu_memory_utilization <= 0 or gpu_memory_utilization > 1:
        raise ValueError("gpu_memory_utilization must be in (0, 1]")
    if total_memory_bytes <= 0 or weights_bytes < 0 or activation_peak_bytes < 0:
        raise ValueError("memory sizes must be positive (total) or non-negative (weights, activations)")
    if min(block_size, num_layers, num_kv_heads, head_dim, dtype_bytes) < 1:
        raise ValueError("model dimensions and block size must be >= 1")
    usable = math.floor(total_memory_bytes * gpu_memory_utilization)
    free = usable - int(weights_bytes) - int(activation_peak_bytes)
    k_and_v = 2
    per_block = k_and_v * num_layers * num_kv_heads * head_dim * dtype_bytes * block_size
    return free // per_block if free > 0 else 0


def max_concurrency(num_blocks, block_size, max_model_len) -> float:
    if num_blocks < 0 or block_size <= 0 or max_model_len <= 0:
        raise ValueError("bad arguments")
    blocks_per_seq = (max_model_len + block_size - 1) // block_size
    return float(num_blocks) / blocks_per_seq
