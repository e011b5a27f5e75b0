# Generated from source/lab2_5_monitoring_tuning/03-Auto_Tuning.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab25_nb03 ---
import math
import random

# --- cell: expected_best_of_random ---
def expected_best_of_random(scores: list[float], k: int) -> float:
    """Expected best score of random search that measures k DISTINCT configs drawn uniformly without
    replacement from a grid whose (full-budget) scores are `scores`, one score per config, higher = better.

    Exact, by order statistics: with the scores sorted ascending s_1 <= ... <= s_n, the best of the k drawn
    configs is s_i with probability C(i-1, k-1) / C(n, k). Tied scores are different configs (keep them all).
    Must work for grids of thousands of configs, where C(n, k) is far beyond the range of a float.
    k outside 1..len(scores), or no scores at all -> ValueError.
    """
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    total = math.comb(n, k)
    return sum(math.comb(i - 1, k - 1) / total * s[i - 1] for i in range(k, n + 1))
