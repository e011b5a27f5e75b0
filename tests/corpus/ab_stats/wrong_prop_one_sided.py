# one-sided p for the proportions test
def mann_whitney(a: list[float], b: list[float]) -> dict:
    """Mann-Whitney U test of a against b, normal approximation with tie correction, two-sided.

    u : number of pairs (x in a, y in b) with x > y, plus 0.5 for every pair with x == y
    mu = n1 * n2 / 2;  sigma^2 = n1 * n2 / 12 * ((n + 1) - sum(t^3 - t) / (n * (n - 1)))
        with n = n1 + n2 and t running over the sizes of the groups of tied values in a + b
    z = (u - mu) / sigma (no continuity correction);  p = 2 * (1 - Phi(|z|))
    sigma == 0 (every value equal) -> z = 0.0, p = 1.0.   Returns {"u": u, "z": z, "p": p}.
    """
    n1, n2 = len(a), len(b)
    pooled = sorted([(x, 0) for x in a] + [(y, 1) for y in b])
    n = n1 + n2
    ranks = [0.0] * n
    ties = 0.0
    i = 0
    while i < n:                                 # average ranks over each group of equal values
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        t = j - i + 1
        ties += t ** 3 - t
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    rank_sum_a = sum(r for r, (_, g) in zip(ranks, pooled) if g == 0)
    u = rank_sum_a - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return {"u": u, "z": 0.0, "p": 1.0}
    z = (u - mu) / math.sqrt(var)
    p = math.erfc(abs(z) / math.sqrt(2))       # = 2 * (1 - Phi(|z|)), without cancellation
    return {"u": u, "z": z, "p": min(1.0, p)}


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int) -> dict:
    """Pooled two-proportion z-test: x_a of n_a requests failed in arm A, x_b of n_b in arm B.

    p = (x_a + x_b) / (n_a + n_b);  se = sqrt(p * (1 - p) * (1/n_a + 1/n_b))
    z = (x_b/n_b - x_a/n_a) / se;  p_value = 2 * (1 - Phi(|z|));  se == 0 -> z = 0.0, p_value = 1.0
    Returns {"z": z, "p": p_value}.
    """
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return {"z": 0.0, "p": 1.0}
    z = (x_b / n_b - x_a / n_a) / se
    return {"z": z, "p": 0.5 * math.erfc(abs(z) / math.sqrt(2))}
