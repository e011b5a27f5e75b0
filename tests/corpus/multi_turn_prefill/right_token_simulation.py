# A token-level simulation: real token lists, a set of cached whole-block prefixes.
def multi_turn_prefill(turns, block_size, prefix_caching=True) -> list[int]:
    if block_size < 1:
        raise ValueError("block_size must be positive")
    cache, conv, result, fresh = set(), [], [], 0
    for user_tokens, reply_tokens in turns:
        if min(user_tokens, reply_tokens) < 1:
            raise ValueError("empty message")
        conv += list(range(fresh, fresh + user_tokens))
        fresh += user_tokens
        hit = 0
        while prefix_caching and hit + block_size <= len(conv) - 1 and tuple(conv[:hit + block_size]) in cache:
            hit += block_size
        result.append(len(conv) - hit)
        conv += list(range(fresh, fresh + reply_tokens))
        fresh += reply_tokens
        for end in range(block_size, len(conv), block_size):   # KV exists for conv[:-1]
            cache.add(tuple(conv[:end]))
    return result
