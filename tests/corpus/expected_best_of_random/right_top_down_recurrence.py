# P(best = s_n) = k / n, then P(best = s_{i-1}) = P(best = s_i) * (i - k) / (i - 1), from the top down
def expected_best_of_random(scores: list[float], k: int) -> float:
    n = len(scores)
    if n == 0 or not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    s = sorted(scores, reverse=True)
    p = k / n
    out = 0.0
    for j, x in enumerate(s):          # x = s_i with i = n - j
        i = n - j
        if i < k:
            break
        out += p * x
        if i > 1:
            p *= (i - k) / (i - 1)
    return out
