# Generated from source/lab2_1_vllm_deployment/01-Setup_and_Installation.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_nb01 ---
# Shared by the exercises of this notebook. Kept light: no torch, no vLLM, no model loading here.
import importlib
import importlib.metadata
import math
import platform
from collections import deque

# --- cell: paging_waste ---
def paging_waste(seq_lens, max_model_len: int, block_size: int) -> dict:
    """KV slots reserved and wasted by static pre-allocation vs paged allocation."""
    lens = [int(n) for n in seq_lens]
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    for n in lens:
        if n < 0 or n > max_model_len:
            raise ValueError(f"sequence length {n} is outside [0, max_model_len={max_model_len}]")

    def fraction(part, whole):
        return part / whole if whole else 0.0

    used = sum(lens)
    static_reserved = len(lens) * max_model_len
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
