# log-space binomials with lgamma
import math


def log_comb(a, b):
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    log_total = log_comb(n, k)
    return sum(math.exp(log_comb(i - 1, k - 1) - log_total) * s[i - 1] for i in range(k, n + 1))
