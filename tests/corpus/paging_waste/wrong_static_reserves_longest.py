# Wrong: static pre-allocation reserves the longest sequence, not max_model_len (that is padding).
def paging_waste(seq_lens, max_model_len, block_size):
    lens = [int(n) for n in seq_lens]
    if block_size < 1:
        raise ValueError("block_size must be >= 1")
    for n in lens:
        if n < 0 or n > max_model_len:
            raise ValueError(f"bad length {n}")

    def fraction(part, whole):
        return part / whole if whole else 0.0

    used = sum(lens)
    static_reserved = len(lens) * max(lens, default=0)
    blocks = sum(math.ceil(n / block_size) for n in lens)
    paged_reserved = blocks * block_size
    return {
        "num_seqs": len(lens),
        "used_slots": used,
        "static_reserved_slots": static_reserved,
        "static_wasted_slots": static_reserved - used,
        "static_waste_fraction": fraction(static_reserved - used, static_reserved),
        "paged_blocks": blocks,
        "paged_reserved_slots": paged_reserved,
        "paged_wasted_slots": paged_reserved - used,
        "paged_waste_fraction": fraction(paged_reserved - used, paged_reserved),
        "memory_saving": fraction(static_reserved - paged_reserved, static_reserved),
    }
