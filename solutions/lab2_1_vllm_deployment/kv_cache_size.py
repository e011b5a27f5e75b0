# Generated from source/lab2_1_vllm_deployment/02-Basic_Inference.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_nb02 ---
# Shared by the exercises of this notebook. Kept light: no torch, no vLLM, no model loading here.
import math

# --- cell: kv_cache_size ---
def kv_cache_bytes(num_layers, num_kv_heads, head_dim, num_tokens, batch_size=1, dtype_bytes=2):
    """Bytes of KV cache for `batch_size` sequences of `num_tokens` tokens each.

    Every layer stores a key AND a value vector of `head_dim` elements per KV head per token:
    2 * num_layers * num_kv_heads * head_dim * num_tokens * batch_size * dtype_bytes.
    `num_tokens` may be 0 (an empty cache); every other argument must be >= 1. Raises ValueError.
    """
    for name, value in (("num_layers", num_layers), ("num_kv_heads", num_kv_heads), ("head_dim", head_dim),
                        ("batch_size", batch_size), ("dtype_bytes", dtype_bytes)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if num_tokens < 0:
        raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
    return int(2 * num_layers * num_kv_heads * head_dim * num_tokens * batch_size * dtype_bytes)


def kv_bytes_per_token(preset, dtype_bytes=2):
    """KV cache bytes of ONE token of ONE sequence for a model shape.

    `preset` has the attributes of `labkit.models.ModelPreset`: num_layers, num_attention_heads,
    num_key_value_heads, head_dim. Only the KV heads are cached (GQA/MQA share them between query heads).
    """
    return kv_cache_bytes(preset.num_layers, preset.num_key_value_heads, preset.head_dim, 1,
                          dtype_bytes=dtype_bytes)


def max_concurrent_seqs(memory_bytes, num_layers, num_kv_heads, head_dim, tokens_per_seq,
                        dtype_bytes=2, block_size=16):
    """How many sequences of `tokens_per_seq` tokens fit in `memory_bytes` of paged KV cache.

    A block holds `block_size` tokens of every layer's K and V; a sequence owns whole blocks,
    ceil(tokens_per_seq / block_size) of them. Result: floor(memory_bytes / bytes per sequence).
    `memory_bytes` may be 0; every other argument must be >= 1. Raises ValueError.
    """
    if memory_bytes < 0:
        raise ValueError(f"memory_bytes must be >= 0, got {memory_bytes}")
    for name, value in (("tokens_per_seq", tokens_per_seq), ("block_size", block_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    block_bytes = kv_cache_bytes(num_layers, num_kv_heads, head_dim, block_size, dtype_bytes=dtype_bytes)
    blocks_per_seq = -(-tokens_per_seq // block_size)      # ceil: the last block is only partly used
    return int(memory_bytes // (blocks_per_seq * block_bytes))
