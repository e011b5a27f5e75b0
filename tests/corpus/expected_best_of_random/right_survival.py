# survival form: E[max] = s_1 + sum_i (s_{i+1} - s_i) * P(max > s_i), P(max <= s_i) = C(i, k) / C(n, k)
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    total = math.comb(n, k)
    out = s[0]
    for i in range(1, n):
        out += (s[i] - s[i - 1]) * (1 - math.comb(i, k) / total)
    return float(out)
