# numpy: percentile(method='inverted_cdf') is the nearest-rank definition

import numpy as np


def percentile(values, q):
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0 or not 0 <= q <= 100:
        raise ValueError("need values and 0 <= q <= 100")
    return float(np.percentile(arr, q, method="inverted_cdf"))


def slo_report(records, *, objective, latency_threshold_s, window):
    if not 0 < objective < 1 or window[0] >= window[1]:
        raise ValueError("invalid objective or window")
    rows = np.array([(t, lat, st) for t, lat, st in records], dtype=float).reshape(-1, 3)
    rows = rows[(rows[:, 0] >= window[0]) & (rows[:, 0] < window[1])]
    n = int(len(rows))
    ok = rows[rows[:, 2] < 500]
    good = int(np.sum(ok[:, 1] <= latency_threshold_s))
    bad = n - good
    frac = good / n if n else 1.0
    rep = {"requests": n, "errors": n - len(ok), "availability": len(ok) / n if n else 1.0, "good_fraction": frac,
           "error_budget": (1 - objective) * n, "budget_consumed": bad,
           "budget_remaining": (1 - objective) * n - bad, "burn_rate": (bad / n) / (1 - objective) if n else 0.0,
           "slo_met": frac >= objective}
    for q in (50, 95, 99):
        rep[f"p{q}"] = percentile(ok[:, 1], q) if len(ok) else None
    return rep
