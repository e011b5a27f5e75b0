# uses scipy.stats.rankdata and scipy's normal survival function
import numpy as np
import scipy.stats


def mann_whitney(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n1, n2 = len(a), len(b)
    ranks = scipy.stats.rankdata(np.concatenate([a, b]))
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    _, counts = np.unique(np.concatenate([a, b]), return_counts=True)
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - float((counts ** 3 - counts).sum()) / (n * (n - 1)))
    if var <= 0:
        return {"u": u, "z": 0.0, "p": 1.0}
    z = float((u - n1 * n2 / 2) / np.sqrt(var))
    return {"u": u, "z": z, "p": float(2 * scipy.stats.norm.sf(abs(z)))}


def two_proportion_ztest(x_a, n_a, x_b, n_b):
    p = (x_a + x_b) / (n_a + n_b)
    se = float(np.sqrt(p * (1 - p) * (1 / n_a + 1 / n_b)))
    if se == 0:
        return {"z": 0.0, "p": 1.0}
    z = (x_b / n_b - x_a / n_a) / se
    return {"z": z, "p": float(2 * scipy.stats.norm.sf(abs(z)))}
