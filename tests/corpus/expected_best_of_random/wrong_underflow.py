# bottom-up recurrence from P(best = s_k) = 1 / C(n, k) in floats: underflows to 0 on large grids
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    p = 1 / math.comb(n, k)
    out = 0.0
    for i in range(k, n + 1):
        out += p * s[i - 1]
        p *= i / (i - k + 1)
    return out
