# exact rational arithmetic, converted once at the end
import math
from fractions import Fraction


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(Fraction(x) for x in scores)
    total = math.comb(n, k)
    return float(sum(math.comb(i - 1, k - 1) * s[i - 1] for i in range(k, n + 1)) / total)
