# pure integer rank arithmetic and one explicit loop over the records

import math


def percentile(values, q):
    if not 0 <= q <= 100:
        raise ValueError("q out of range")
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    if q == 0:
        return ordered[0]
    k = -(-q * n // 100)                     # ceil for integer q
    if isinstance(q, float) and not q.is_integer():
        k = math.ceil(q * n / 100)
    return ordered[int(k) - 1]


def slo_report(records, *, objective, latency_threshold_s, window):
    lo, hi = window
    if not (0 < objective < 1) or hi <= lo:
        raise ValueError("bad objective or window")
    n = errors = good = 0
    lat_ok = []
    for t, latency, status in records:
        if not (lo <= t < hi):
            continue
        n += 1
        if status >= 500:
            errors += 1
            continue
        lat_ok.append(latency)
        if latency <= latency_threshold_s:
            good += 1
    bad = n - good
    allowed = (1 - objective) * n
    out = dict(requests=n, errors=errors, availability=1.0 if n == 0 else (n - errors) / n,
               good_fraction=1.0 if n == 0 else good / n, error_budget=allowed, budget_consumed=bad,
               budget_remaining=allowed - bad, burn_rate=0.0 if n == 0 else bad / n / (1 - objective))
    out.update({f"p{q}": (percentile(lat_ok, q) if lat_ok else None) for q in (50, 95, 99)})
    out["slo_met"] = bool(out["good_fraction"] >= objective)
    return out
