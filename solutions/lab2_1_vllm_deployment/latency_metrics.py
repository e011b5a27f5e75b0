# Generated from source/lab2_1_vllm_deployment/03-Advanced_Features.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: latency_metrics ---
"""Latency metrics of a serving engine, from per-token timestamps.

One request is described by ``arrival`` (when it was submitted) and ``token_times`` (when each of
its output tokens was emitted), in seconds on one clock (e.g. ``time.monotonic()``):

* TTFT, time to first token:     ``token_times[0] - arrival``
* E2E, end-to-end latency:       ``token_times[-1] - arrival``
* ITL, inter-token latencies:    every gap ``token_times[i] - token_times[i - 1]`` (n - 1 values)
* TPOT, time per output token:   ``(E2E - TTFT) / (n - 1)``, only defined for n > 1 tokens

Percentiles interpolate linearly between the closest ranks (numpy's default ``method="linear"``,
Hyndman & Fan type 7): the q-th percentile of the sorted values ``v[0] <= ... <= v[m-1]`` lies at
position ``(m - 1) * q / 100``, between ``v[floor(pos)]`` and ``v[floor(pos) + 1]``.
"""
import math


def request_latency(arrival: float, token_times) -> dict:
    """{'ttft', 'e2e', 'tpot', 'itl'} of one request (tpot None for a single token).

    ValueError if token_times is empty, decreases somewhere, or starts before arrival.
    Equal timestamps are fine (an engine may emit several tokens in one step).
    """
    times = [float(t) for t in token_times]
    if not times:
        raise ValueError("token_times is empty: a request without output tokens has no latencies")
    if times[0] < arrival:
        raise ValueError(f"the first token ({times[0]}) is stamped before the arrival ({arrival})")
    if any(b < a for a, b in zip(times, times[1:])):
        raise ValueError("token_times must be in emission order (non-decreasing)")
    ttft = times[0] - arrival
    e2e = times[-1] - arrival
    itl = [b - a for a, b in zip(times, times[1:])]
    tpot = (e2e - ttft) / (len(times) - 1) if len(times) > 1 else None
    return {"ttft": ttft, "e2e": e2e, "tpot": tpot, "itl": itl}


def percentile(values, q: float) -> float:
    """The q-th percentile (0 <= q <= 100) of values, linear interpolation; ValueError if empty."""
    xs = sorted(float(v) for v in values)
    if not xs:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary(requests) -> dict:
    """p50 / p90 / p99 of TTFT, TPOT, ITL and E2E over requests, a list of (arrival, token_times).

    Returns {'ttft': {'p50': .., 'p90': .., 'p99': ..}, 'tpot': {...}, 'itl': {...}, 'e2e': {...}}.
    ITL pools the gaps of all requests; TPOT skips single-token requests; a metric without any
    value (e.g. ITL when every request has one token) is None. ValueError if requests is empty.
    """
    if not requests:
        raise ValueError("no requests to summarise")
    per_request = [request_latency(arrival, times) for arrival, times in requests]
    values = {
        "ttft": [r["ttft"] for r in per_request],
        "tpot": [r["tpot"] for r in per_request if r["tpot"] is not None],
        "itl": [gap for r in per_request for gap in r["itl"]],
        "e2e": [r["e2e"] for r in per_request],
    }
    return {name: ({f"p{q}": percentile(vs, q) for q in (50, 90, 99)} if vs else None)
            for name, vs in values.items()}
