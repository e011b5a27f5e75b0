# best of the first k configs of the grid (one particular draw, not the expectation)
def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    return float(max(scores[:k]))
