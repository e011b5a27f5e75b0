"""Hidden grader: throughput and latency of a run of requests (Lab 2.1, notebook 02).

Expectations are computed here from the exercise's definitions: rates over the wall-clock span
max(end) - min(start); only generated tokens count as output; latency = end - start per request;
percentiles by linear interpolation (numpy's default, Hyndman & Fan type 7). Generated times are
multiples of 1/8 s, so the arithmetic is exact in floating point.
"""
from __future__ import annotations

import copy
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["throughput_metrics"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30

KEYS = ("num_requests", "duration_s", "output_tokens_per_s", "total_tokens_per_s", "requests_per_s",
        "latency_mean_s", "latency_p50_s", "latency_p90_s", "latency_p99_s")


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def type7(values, q):
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def rec(p, o, s, e):
    return {"prompt_tokens": p, "output_tokens": o, "start": s, "end": e}


def show(records, limit=6) -> str:
    items = [f"({r['prompt_tokens']}, {r['output_tokens']}, {r['start']:g}, {r['end']:g})" for r in records[:limit]]
    more = f", ... {len(records) - limit} more" if len(records) > limit else ""
    return f"[{', '.join(items)}{more}] as (prompt_tokens, output_tokens, start, end)"


def metrics(student, records) -> dict:
    out = student.throughput_metrics(copy.deepcopy(records))
    if not isinstance(out, dict):
        fail_with(f"throughput_metrics({show(records)}) returned {type(out).__name__}; expected a dict")
    missing = [k for k in KEYS if k not in out]
    if missing:
        fail_with(f"throughput_metrics({show(records)}) returned a dict without {missing}")
    return {k: as_float(out[k], f"throughput_metrics(...)['{k}']") for k in KEYS}


def expect(records) -> dict:
    span = max(r["end"] for r in records) - min(r["start"] for r in records)
    out_tok = sum(r["output_tokens"] for r in records)
    lat = [r["end"] - r["start"] for r in records]
    return {
        "num_requests": len(records), "duration_s": span,
        "output_tokens_per_s": out_tok / span,
        "total_tokens_per_s": (out_tok + sum(r["prompt_tokens"] for r in records)) / span,
        "requests_per_s": len(records) / span,
        "latency_mean_s": sum(lat) / len(lat),
        "latency_p50_s": type7(lat, 50), "latency_p90_s": type7(lat, 90), "latency_p99_s": type7(lat, 99),
    }


def check(student, records, keys, why):
    got, want = metrics(student, records), expect(records)
    for k in keys:
        if not close(got[k], want[k]):
            fail_with(f"throughput_metrics({show(records)})['{k}'] is {got[k]:g}; expected {want[k]:g} ({why[k]})")


WHY = {
    "num_requests": "the number of records",
    "duration_s": "wall-clock span: last end - first start",
    "output_tokens_per_s": "sum of output_tokens (generated only) / wall-clock span",
    "total_tokens_per_s": "sum of prompt_tokens + output_tokens / wall-clock span",
    "requests_per_s": "number of requests / wall-clock span",
    "latency_mean_s": "mean of end - start",
    "latency_p50_s": "50th percentile of end - start, linear interpolation",
    "latency_p90_s": "90th percentile of end - start, linear interpolation",
    "latency_p99_s": "99th percentile of end - start, linear interpolation",
}

eighths = st.integers(0, 8 * 600).map(lambda k: k / 8)
def request(prompt_tokens, output_tokens, start, duration):
    return rec(prompt_tokens, output_tokens, start, start + duration)


record = st.builds(request, st.integers(0, 4096), st.integers(0, 4096), eighths,
                   st.integers(1, 8 * 60).map(lambda k: k / 8))
runs = st.lists(record, min_size=1, max_size=40)


@points(1)
def test_returns_all_metrics(student):
    """returns a dict with every documented metric"""
    records = [rec(10, 20, 0.0, 1.0), rec(5, 30, 0.5, 2.0)]
    got = metrics(student, records)
    if got["num_requests"] != 2:
        fail_with(f"throughput_metrics({show(records)})['num_requests'] is {got['num_requests']:g}; expected 2")


@points(2)
@settings(max_examples=150, deadline=None)
@given(records=runs)
def test_token_rates(student, records):
    """output tokens/s counts generated tokens only; both token rates use the wall-clock span"""
    check(student, records, ["output_tokens_per_s", "total_tokens_per_s"], WHY)


@points(1)
@settings(max_examples=150, deadline=None)
@given(records=runs, offset=st.integers(1, 8 * 10_000).map(lambda k: k / 8))
def test_span_and_request_rate(student, records, offset):
    """duration_s is last end - first start (clocks need not start at 0); requests/s uses it"""
    shifted = [rec(r["prompt_tokens"], r["output_tokens"], r["start"] + offset, r["end"] + offset) for r in records]
    check(student, shifted, ["num_requests", "duration_s", "requests_per_s"], WHY)


@points(1)
def test_overlapping_requests(student):
    """concurrent requests: throughput is total work / wall-clock time, not a sum or mean of per-request figures"""
    cases = [
        ([rec(50, 100, 0.0, 2.0) for _ in range(4)], "4 requests that all run from t=0 to t=2 s"),
        ([rec(10, 100, 0.0, 1.0), rec(10, 100, 0.0, 4.0)], "a 1 s and a 4 s request that start together"),
        ([rec(10, 64, 0.0, 1.0), rec(10, 64, 3.0, 4.0)], "two 1 s requests with an idle gap between them"),
    ]
    for records, what in cases:
        got, want = metrics(student, records), expect(records)
        for k in ("output_tokens_per_s", "requests_per_s", "duration_s"):
            if not close(got[k], want[k]):
                fail_with(f"{what}: throughput_metrics({show(records)})['{k}'] is {got[k]:g}; expected {want[k]:g} "
                          f"({WHY[k]})")


@points(2)
@settings(max_examples=150, deadline=None)
@given(records=runs)
def test_latency_statistics(student, records):
    """latency mean and p50/p90/p99 of end - start, percentiles by linear interpolation"""
    check(student, records, ["latency_mean_s", "latency_p50_s", "latency_p90_s", "latency_p99_s"], WHY)


@points(1)
def test_percentile_small_examples(student):
    """percentiles on small runs: one request, two requests, latencies 1..10 s"""
    cases = [
        [rec(1, 1, 0.0, 3.0)],
        [rec(1, 1, 0.0, 1.0), rec(1, 1, 0.0, 2.0)],
        [rec(1, 1, 0.0, float(k)) for k in (7, 2, 10, 1, 9, 4, 3, 8, 5, 6)],
    ]
    for records in cases:
        check(student, records, ["latency_p50_s", "latency_p90_s", "latency_p99_s"], WHY)


@points(1)
def test_order_independent_and_input_untouched(student):
    """the result does not depend on the order of the records, and the records are not modified"""
    rng = random.Random(2)
    records = [rec(rng.randint(1, 50), rng.randint(1, 200), k / 8, k / 8 + rng.randint(1, 40) / 8) for k in range(25)]
    pristine = copy.deepcopy(records)
    shuffled = records[:]
    rng.shuffle(shuffled)
    # called inside the sandbox on a list made there, which comes back as it is afterwards (the grader's
    # own list would only ever be copied to the student)
    a, after = student.__sandbox__.helpers.call_in_place(student.throughput_metrics, [records], mutable=[0])
    if records != pristine or list(after.values()) != [pristine]:
        fail_with("throughput_metrics(records) modified its input list or the dicts in it")
    a = {k: as_float(a[k], f"throughput_metrics(...)['{k}']") for k in KEYS}
    b = metrics(student, shuffled)
    for k in KEYS:
        if not close(a[k], b[k]):
            fail_with(f"throughput_metrics gives {k} = {a[k]:g} for 25 records and {b[k]:g} for the same records "
                      "in another order")


BAD = [
    ([], "an empty list"),
    ([rec(10, 10, 0.0, 1.0), rec(10, 10, 2.0, 1.5)], "a request that ends (1.5) before it starts (2.0)"),
    ([rec(10, -1, 0.0, 1.0)], "a negative output_tokens"),
    ([rec(-3, 10, 0.0, 1.0)], "a negative prompt_tokens"),
    ([rec(10, 10, 5.0, 5.0), rec(3, 4, 5.0, 5.0)], "requests that span zero wall-clock time"),
]


@points(1)
def test_rejects_bad_input(student):
    """ValueError for an empty run, end < start, negative token counts, a zero span"""
    for records, what in BAD:
        try:
            result = student.throughput_metrics(copy.deepcopy(records))
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"throughput_metrics({show(records)}) ({what}) raised {type(exc).__name__}; expected ValueError")
        fail_with(f"throughput_metrics({show(records)}) ({what}) returned {type(result).__name__}; "
                  "expected ValueError")
