# forgets to sort the scores
import math


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    total = math.comb(n, k)
    return sum(math.comb(i - 1, k - 1) / total * scores[i - 1] for i in range(k, n + 1))
