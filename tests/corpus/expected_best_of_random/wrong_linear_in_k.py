# interpolates linearly between the mean (k = 1) and the max (k = n)
def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    mean = sum(scores) / n
    if n == 1:
        return float(scores[0])
    return mean + (max(scores) - mean) * (k - 1) / (n - 1)
