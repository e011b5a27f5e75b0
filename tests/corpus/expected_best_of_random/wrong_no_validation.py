# no argument check: k = 0 returns 0.0, k > n divides by C(n, k) = 0
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    s = sorted(scores)
    if k <= 0:
        return 0.0
    total = math.comb(n, k)
    return sum(math.comb(i - 1, k - 1) / total * s[i - 1] for i in range(k, n + 1))
