# Correct: one loop, per-sequence waste (-n) % block_size, totals accumulated.
def paging_waste(seq_lens, max_model_len, block_size):
    if not block_size >= 1:
        raise ValueError("block_size < 1")
    num = used = blocks = paged_waste = 0
    for raw in seq_lens:
        n = int(raw)
        if not 0 <= n <= max_model_len:
            raise ValueError(f"length {n} not in [0, {max_model_len}]")
        num += 1
        used += n
        blocks += (n + block_size - 1) // block_size
        paged_waste += (-n) % block_size
    static = num * max_model_len
    paged = used + paged_waste
    return {
        "num_seqs": num, "used_slots": used,
        "static_reserved_slots": static, "static_wasted_slots": static - used,
        "static_waste_fraction": 0.0 if static == 0 else (static - used) / static,
        "paged_blocks": blocks, "paged_reserved_slots": paged, "paged_wasted_slots": paged_waste,
        "paged_waste_fraction": 0.0 if paged == 0 else paged_waste / paged,
        "memory_saving": 0.0 if static == 0 else (static - paged) / static,
    }
