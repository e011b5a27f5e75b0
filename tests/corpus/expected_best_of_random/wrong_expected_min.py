# the expected WORST of the sample: C(n - i, k - 1)
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    total = math.comb(n, k)
    return sum(math.comb(n - i, k - 1) / total * s[i - 1] for i in range(1, n - k + 2))
