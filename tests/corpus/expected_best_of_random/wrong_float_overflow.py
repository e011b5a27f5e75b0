# multiplies the huge integer C(i-1, k-1) by a float score: OverflowError on large grids
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    return sum(math.comb(i - 1, k - 1) * s[i - 1] for i in range(k, n + 1)) / math.comb(n, k)
