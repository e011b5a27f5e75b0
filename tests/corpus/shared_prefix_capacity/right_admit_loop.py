# Admits sequences one at a time, like a scheduler would, until the pool runs out.
import math


def shared_prefix_capacity(num_blocks, block_size, prefix_tokens, own_tokens, prefix_caching=True) -> int:
    if num_blocks < 0:
        raise ValueError("num_blocks < 0")
    if block_size < 1 or prefix_tokens < 0 or own_tokens < 1:
        raise ValueError("bad sizes")
    per_seq = math.ceil((prefix_tokens + own_tokens) / block_size)
    shared = math.floor(prefix_tokens / block_size) if prefix_caching else 0
    free, count = num_blocks, 0
    first = True
    while True:
        cost = per_seq if first else per_seq - shared
        if cost > free:
            return count
        free -= cost
        count += 1
        first = False
