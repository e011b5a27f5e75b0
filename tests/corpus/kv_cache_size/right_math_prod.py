# Uses math.prod and counts whole blocks in the budget first, then sequences (floor of a floor is the same floor).
def kv_cache_bytes(num_layers, num_kv_heads, head_dim, num_tokens, batch_size=1, dtype_bytes=2):
    sizes = {"num_layers": num_layers, "num_kv_heads": num_kv_heads, "head_dim": head_dim,
             "batch_size": batch_size, "dtype_bytes": dtype_bytes}
    bad = [k for k, v in sizes.items() if v <= 0]
    if bad or num_tokens < 0:
        raise ValueError(f"invalid sizes: {bad or ['num_tokens']}")
    return math.prod([2, num_layers, num_kv_heads, head_dim, num_tokens, batch_size, dtype_bytes])


def kv_bytes_per_token(preset, dtype_bytes=2):
    kv_heads = preset.num_key_value_heads
    return kv_cache_bytes(preset.num_layers, kv_heads, preset.head_dim, 1, dtype_bytes=dtype_bytes)


def max_concurrent_seqs(memory_bytes, num_layers, num_kv_heads, head_dim, tokens_per_seq,
                        dtype_bytes=2, block_size=16):
    if memory_bytes < 0 or tokens_per_seq <= 0 or block_size <= 0:
        raise ValueError("memory_bytes must be >= 0, tokens_per_seq and block_size >= 1")
    block = kv_cache_bytes(num_layers, num_kv_heads, head_dim, block_size, dtype_bytes=dtype_bytes)
    total_blocks = memory_bytes // block
    blocks_per_seq = (tokens_per_seq + block_size - 1) // block_size
    return total_blocks // blocks_per_seq
