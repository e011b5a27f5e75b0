# Closed forms: attention keys as context_len*n - n*(n-1)/2, everything per token then times the batch.
def layer_flops_bytes(preset, num_seqs, new_tokens, context_len, dtype_bytes=2):
    n, L, b = new_tokens, context_len, num_seqs
    if b <= 0 or n <= 0 or L < n:
        raise ValueError(f"bad step {(b, n, L)}")
    d = preset.head_dim
    qd, kvd = preset.num_attention_heads * d, preset.num_key_value_heads * d
    h = preset.hidden_size
    w = 2 * h * qd + 2 * h * kvd + 3 * h * preset.intermediate_size
    keys = L * n - n * (n - 1) // 2
    flops = b * (2 * w * n + 4 * qd * keys)
    kv = 2 * kvd * L * dtype_bytes * b
    return {"flops": int(flops), "weight_bytes": int(w * dtype_bytes), "kv_bytes": int(kv),
            "bytes": int(w * dtype_bytes + kv)}
