# Generated from source/lab2_2_inference_optimization/01-KV_Cache_Optimization.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb01 ---
# Shared by the exercises of this notebook: the standard library and trusted course code only.
import math
from collections import OrderedDict

# Lab 2.1 parts: the paged block manager that prefix caching extends (01) and the KV cache size formula
# (02-Basic_Inference): the course's reference once Lab 2.1 is published (and always when graded), your own
# Lab 2.1 solutions (notebooks/lab2_1_vllm_deployment/) before that.
from labkit.earlier_labs import earlier_part

BlockManager, OutOfBlocksError = earlier_part("lab2_1_vllm_deployment", "block_manager",
                                              "BlockManager", "OutOfBlocksError")
kv_cache_bytes = earlier_part("lab2_1_vllm_deployment", "kv_cache_size", "kv_cache_bytes")

# --- cell: shared_prefix_capacity ---
def shared_prefix_capacity(num_blocks, block_size, prefix_tokens, own_tokens, prefix_caching=True) -> int:
    """How many sequences fit in a pool of `num_blocks` KV blocks at the same time.

    Every sequence is a shared prefix of `prefix_tokens` tokens (e.g. a system prompt) followed by
    `own_tokens` tokens of its own (its question and its answer), and holds whole blocks of
    `block_size` tokens. With prefix caching the FULL blocks of the prefix are stored once and shared
    by every sequence; the prefix's partly filled last block (if any) cannot be shared, because each
    sequence writes its own tokens into it. Without prefix caching nothing is shared.
    Raises ValueError if num_blocks < 0, block_size < 1, prefix_tokens < 0 or own_tokens < 1.
    """
    if num_blocks < 0 or block_size < 1 or prefix_tokens < 0 or own_tokens < 1:
        raise ValueError("need num_blocks >= 0, block_size >= 1, prefix_tokens >= 0 and own_tokens >= 1")
    total = -(-(prefix_tokens + own_tokens) // block_size)   # blocks of one whole sequence
    shared = prefix_tokens // block_size if prefix_caching else 0
    private = total - shared                                  # >= 1, since own_tokens >= 1
    if num_blocks < shared:
        return 0
    return (num_blocks - shared) // private
