# Generated from source/lab2_1_vllm_deployment/04-Production_Deployment.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_production ---
# Shared by the exercises of this notebook: the standard library only (no vLLM, no model here).
import codecs
import json
import math
import re
from typing import Iterable


class StreamError(RuntimeError):
    """The server reported an error inside a stream (an `event: error`, or a JSON object with an "error" key)."""

# --- cell: kv_blocks_budget ---
def num_kv_blocks(total_memory_bytes, gpu_memory_utilization, weights_bytes, activation_peak_bytes,
                  block_size, num_layers, num_kv_heads, head_dim, dtype_bytes=2) -> int:
    """How many KV-cache blocks fit on the device, the way vLLM sizes its cache at start-up.

        budget          = total_memory_bytes * gpu_memory_utilization - weights_bytes - activation_peak_bytes
        bytes_per_block = 2 (K and V) * num_layers * num_kv_heads * head_dim * block_size * dtype_bytes
        blocks          = floor(budget / bytes_per_block)

    Returns 0 when the budget is negative or holds less than one block (the engine then cannot start:
    vLLM refuses with "No available memory for the cache blocks").
    Raises ValueError when gpu_memory_utilization is not in (0, 1], total_memory_bytes is not positive,
    weights_bytes or activation_peak_bytes is negative, or block_size, num_layers, num_kv_heads,
    head_dim or dtype_bytes is less than 1.
    """
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    if total_memory_bytes <= 0:
        raise ValueError(f"total_memory_bytes must be positive, got {total_memory_bytes}")
    if weights_bytes < 0 or activation_peak_bytes < 0:
        raise ValueError("weights_bytes and activation_peak_bytes must not be negative")
    for name, value in [("block_size", block_size), ("num_layers", num_layers), ("num_kv_heads", num_kv_heads),
                        ("head_dim", head_dim), ("dtype_bytes", dtype_bytes)]:
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    budget = total_memory_bytes * gpu_memory_utilization - weights_bytes - activation_peak_bytes
    bytes_per_block = 2 * num_layers * num_kv_heads * head_dim * block_size * dtype_bytes
    if budget < bytes_per_block:
        return 0
    return int(budget // bytes_per_block)


def max_concurrency(num_blocks, block_size, max_model_len) -> float:
    """How many sequences of max_model_len tokens the cache holds at once (vLLM's "Maximum concurrency").

    A sequence of max_model_len tokens needs ceil(max_model_len / block_size) whole blocks, so
    max_concurrency = num_blocks / ceil(max_model_len / block_size)  (a float: 2.5 means two full sequences
    and half of a third). Raises ValueError for num_blocks < 0, block_size < 1 or max_model_len < 1.
    """
    if num_blocks < 0 or block_size < 1 or max_model_len < 1:
        raise ValueError("need num_blocks >= 0, block_size >= 1 and max_model_len >= 1")
    blocks_per_seq = -(-max_model_len // block_size)
    return num_blocks / blocks_per_seq
