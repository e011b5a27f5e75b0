"""How much memory a KV cache takes, and how many sequences fit in a memory budget.

Every layer stores one key and one value vector per KV head for every token, so
bytes = 2 (K and V) * layers * kv_heads * head_dim * tokens * batch * bytes per element.
"""


def kv_cache_bytes(num_layers: int, num_kv_heads: int, head_dim: int, num_tokens: int,
                   batch_size: int = 1, dtype_bytes: int = 2) -> int:
    return 2 * num_layers * num_kv_heads * head_dim * num_tokens * batch_size * dtype_bytes


def max_concurrent_seqs(memory_bytes: int, num_layers: int, num_kv_heads: int, head_dim: int,
                        tokens_per_seq: int, dtype_bytes: int = 2, block_size: int = 16) -> int:
    """Sequences of tokens_per_seq tokens that fit, each holding whole blocks (paged allocation)."""
    block_bytes = kv_cache_bytes(num_layers, num_kv_heads, head_dim, block_size, dtype_bytes=dtype_bytes)
    num_blocks = memory_bytes // block_bytes
    blocks_per_seq = -(-tokens_per_seq // block_size)  # the last block is only partly used
    return num_blocks // blocks_per_seq
