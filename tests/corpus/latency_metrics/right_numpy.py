# numpy: np.diff for the gaps, np.percentile (method="linear" is its default) for the percentiles
import numpy as np


def request_latency(arrival, token_times):
    t = np.asarray(list(token_times), dtype=float)
    if t.size == 0:
        raise ValueError("no tokens")
    if t[0] < arrival or np.any(np.diff(t) < 0):
        raise ValueError("timestamps out of order")
    ttft = float(t[0] - arrival)
    e2e = float(t[-1] - arrival)
    return {"ttft": ttft, "e2e": e2e, "itl": np.diff(t).tolist(),
            "tpot": (e2e - ttft) / (t.size - 1) if t.size > 1 else None}


def percentile(values, q):
    values = list(values)
    if not values:
        raise ValueError("empty")
    return float(np.percentile(np.asarray(values, dtype=float), q))


def latency_summary(requests):
    if len(requests) == 0:
        raise ValueError("no requests")
    rs = [request_latency(a, t) for a, t in requests]
    pools = {"ttft": [r["ttft"] for r in rs], "tpot": [r["tpot"] for r in rs if r["tpot"] is not None],
             "itl": sum((r["itl"] for r in rs), []), "e2e": [r["e2e"] for r in rs]}
    out = {}
    for name, vals in pools.items():
        if vals:
            p = np.percentile(vals, [50, 90, 99])
            out[name] = {"p50": float(p[0]), "p90": float(p[1]), "p99": float(p[2])}
        else:
            out[name] = None
    return out
