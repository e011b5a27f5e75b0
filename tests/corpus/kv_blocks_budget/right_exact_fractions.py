# exact rational arithmetic with fractions.Fraction, 0 for a negative budget via max()
from fractions import Fraction


def num_kv_blocks(total_memory_bytes, gpu_memory_utilization, weights_bytes, activation_peak_bytes,
                  block_size, num_layers, num_kv_heads, head_dim, dtype_bytes=2) -> int:
    checks = {
        "gpu_memory_utilization": 0 < gpu_memory_utilization <= 1,
        "total_memory_bytes": total_memory_bytes > 0,
        "weights_bytes": weights_bytes >= 0,
        "activation_peak_bytes": activation_peak_bytes >= 0,
        "block_size": block_size >= 1, "num_layers": num_layers >= 1, "num_kv_heads": num_kv_heads >= 1,
        "head_dim": head_dim >= 1, "dtype_bytes": dtype_bytes >= 1,
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"invalid argument(s): {', '.join(bad)}")
    per_token = 2 * num_layers * num_kv_heads * head_dim * dtype_bytes
    budget = Fraction(total_memory_bytes) * Fraction(gpu_memory_utilization) - weights_bytes - activation_peak_bytes
    return max(0, math.floor(budget / (per_token * block_size)))


def max_concurrency(num_blocks, block_size, max_model_len) -> float:
    if min(block_size, max_model_len) < 1 or num_blocks < 0:
        raise ValueError("bad arguments")
    return num_blocks / math.ceil(Fraction(max_model_len, block_size))
