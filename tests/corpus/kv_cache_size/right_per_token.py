# Builds everything from the bytes of one token; max_concurrent_seqs rounds each sequence up to whole blocks in tokens.
def _need(value, name, minimum=1):
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def kv_cache_bytes(num_layers, num_kv_heads, head_dim, num_tokens, batch_size=1, dtype_bytes=2):
    _need(num_layers, "num_layers")
    _need(num_kv_heads, "num_kv_heads")
    _need(head_dim, "head_dim")
    _need(num_tokens, "num_tokens", 0)
    _need(batch_size, "batch_size")
    _need(dtype_bytes, "dtype_bytes")
    per_token = num_layers * num_kv_heads * head_dim * dtype_bytes * 2
    return per_token * num_tokens * batch_size


def kv_bytes_per_token(preset, dtype_bytes=2):
    return kv_cache_bytes(preset.num_layers, preset.num_key_value_heads, preset.head_dim, num_tokens=1,
                          batch_size=1, dtype_bytes=dtype_bytes)


def max_concurrent_seqs(memory_bytes, num_layers, num_kv_heads, head_dim, tokens_per_seq,
                        dtype_bytes=2, block_size=16):
    _need(memory_bytes, "memory_bytes", 0)
    _need(tokens_per_seq, "tokens_per_seq")
    _need(block_size, "block_size")
    padded_tokens = math.ceil(tokens_per_seq / block_size) * block_size
    per_seq = kv_cache_bytes(num_layers, num_kv_heads, head_dim, padded_tokens, dtype_bytes=dtype_bytes)
    return memory_bytes // per_seq
