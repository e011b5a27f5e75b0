# samples with replacement: P(best <= s_i) = (i / n) ** k
def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores)
    return sum(x * ((i / n) ** k - ((i - 1) / n) ** k) for i, x in enumerate(s, start=1))
