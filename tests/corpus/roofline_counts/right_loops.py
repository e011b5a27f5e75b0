# Counts matrix by matrix and key by key with loops (slow but literal).
def layer_flops_bytes(preset, num_seqs, new_tokens, context_len, dtype_bytes=2):
    if min(num_seqs, new_tokens) < 1 or context_len < new_tokens:
        raise ValueError("impossible step")
    h, d, inter = preset.hidden_size, preset.head_dim, preset.intermediate_size
    nq, nkv = preset.num_attention_heads, preset.num_key_value_heads
    mats = [(h, nq * d), (h, nkv * d), (h, nkv * d), (nq * d, h), (h, inter), (h, inter), (inter, h)]
    weights = sum(a * b for a, b in mats)
    flops = 0
    for _ in range(num_seqs):
        past = context_len - new_tokens
        for i in range(new_tokens):
            flops += 2 * weights
            flops += nq * (2 * d + 2 * d) * (past + i + 1)
    kv = 0
    for _ in range(num_seqs):
        kv += 2 * nkv * d * context_len * dtype_bytes
    return dict(flops=flops, weight_bytes=weights * dtype_bytes, kv_bytes=kv, bytes=weights * dtype_bytes + kv)
