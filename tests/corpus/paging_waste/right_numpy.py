# Correct: vectorised with numpy; -(-n // b) for the ceiling; numpy scalars converted at the end.
import numpy as np


def paging_waste(seq_lens, max_model_len, block_size):
    lens = np.asarray(list(seq_lens), dtype=np.int64)
    if block_size < 1 or (lens.size and (lens.min() < 0 or lens.max() > max_model_len)):
        raise ValueError("invalid lengths or block size")
    used = int(lens.sum())
    blocks = int((-(-lens // block_size)).sum())
    static = int(lens.size) * max_model_len
    paged = blocks * block_size
    out = dict(num_seqs=int(lens.size), used_slots=used, static_reserved_slots=static,
               static_wasted_slots=static - used, paged_blocks=blocks, paged_reserved_slots=paged,
               paged_wasted_slots=paged - used)
    out["static_waste_fraction"] = (static - used) / static if static > 0 else 0.0
    out["paged_waste_fraction"] = (paged - used) / paged if paged > 0 else 0.0
    out["memory_saving"] = 1.0 - paged / static if static > 0 else 0.0
    return out
