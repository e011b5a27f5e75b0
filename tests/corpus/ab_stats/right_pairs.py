# counts pairs directly and groups ties with a Counter
from collections import Counter


def mann_whitney(a, b):
    n1, n2 = len(a), len(b)
    u = 0.0
    for x in a:
        for y in b:
            u += 1.0 if x > y else (0.5 if x == y else 0.0)
    n = n1 + n2
    t = sum(c ** 3 - c for c in Counter(list(a) + list(b)).values())
    sigma2 = n1 * n2 / 12.0 * (n + 1 - t / (n * (n - 1)))
    if sigma2 <= 0:
        return {"u": u, "z": 0.0, "p": 1.0}
    z = (u - n1 * n2 / 2.0) / sigma2 ** 0.5
    return {"u": u, "z": z, "p": 2 * Z.cdf(-abs(z))}


def two_proportion_ztest(x_a, n_a, x_b, n_b):
    p = (x_a + x_b) / (n_a + n_b)
    var = p * (1 - p) * (1 / n_a + 1 / n_b)
    if var <= 0:
        return {"z": 0.0, "p": 1.0}
    z = (x_b / n_b - x_a / n_a) / math.sqrt(var)
    return {"z": z, "p": 2 * Z.cdf(-abs(z))}
