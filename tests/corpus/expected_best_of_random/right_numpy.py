# numpy dot product; weights from exact ints divided once
import math

import numpy as np


def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = np.sort(np.asarray(scores, dtype=float))
    total = math.comb(n, k)
    w = np.array([math.comb(i - 1, k - 1) / total for i in range(1, n + 1)])
    return float(np.dot(w, s))
