# removes ties with set(): counts distinct values, not configs
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    if not scores or not 1 <= k <= len(scores):
        raise ValueError(f"k must be in 1..{len(scores)}, got {k}")
    s = sorted(set(scores))
    n = len(s)
    k = min(k, n)
    total = math.comb(n, k)
    return sum(math.comb(i - 1, k - 1) / total * s[i - 1] for i in range(k, n + 1))
