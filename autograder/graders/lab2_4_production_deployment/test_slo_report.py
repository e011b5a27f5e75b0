"""Hidden grader: SLIs, SLOs, nearest-rank percentiles and the error budget (Lab 2.4, notebook 03).

The expectations are computed here from the definitions the exercise states: half-open window,
errors = status >= 500, good = non-error and latency <= threshold, nearest-rank percentiles of the
non-error latencies, budget = (1 - objective) * requests, burn rate = bad ratio / (1 - objective).
"""
from __future__ import annotations

import math

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_float, as_int, fail_with, points

EXERCISES = ["slo_report"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 30
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)


def nearest_rank(values, q):
    xs = sorted(values)
    return xs[max(1, math.ceil(q * len(xs) / 100)) - 1]


def model(records, objective, threshold, window):
    start, end = window
    inside = [(lat, st_) for t, lat, st_ in records if start <= t < end]
    n = len(inside)
    ok = [lat for lat, s in inside if s < 500]
    good = sum(1 for lat in ok if lat <= threshold)
    bad = n - good
    out = {"requests": n, "errors": n - len(ok), "availability": len(ok) / n if n else 1.0,
           "good_fraction": good / n if n else 1.0, "error_budget": (1 - objective) * n,
           "budget_consumed": bad, "budget_remaining": (1 - objective) * n - bad,
           "burn_rate": (bad / n) / (1 - objective) if n else 0.0}
    for q in (50, 95, 99):
        out[f"p{q}"] = nearest_rank(ok, q) if ok else None
    out["slo_met"] = (good / n if n else 1.0) >= objective
    return out


HINTS = {
    "requests": "count the records with start <= t < end (the end is excluded)",
    "errors": "errors are server errors, status >= 500 (a 4xx is the client's fault)",
    "availability": "non-error requests / requests (4xx count as available)",
    "good_fraction": "good = status < 500 and latency <= threshold; good / requests",
    "error_budget": "(1 - objective) * requests",
    "budget_consumed": "the number of bad requests: errors plus slow non-error requests",
    "budget_remaining": "error_budget - budget_consumed (negative once the SLO is missed)",
    "burn_rate": "(bad / requests) / (1 - objective)",
    "p50": "nearest rank of the latencies of the non-error requests in the window",
    "p95": "nearest rank of the latencies of the non-error requests in the window",
    "p99": "nearest rank of the latencies of the non-error requests in the window",
    "slo_met": "good_fraction >= objective",
}


def describe(records, limit=6):
    shown = ", ".join(f"({t:g}, {lat:g}, {s})" for t, lat, s in records[:limit])
    return "[" + shown + (f", ... {len(records)} records" if len(records) > limit else "") + "]"


def check_report(student, records, objective, threshold, window, what=None):
    call = what or (f"slo_report({describe(records)}, objective={objective:g}, latency_threshold_s={threshold:g}, "
                    f"window={window})")
    out = student.slo_report(list(records), objective=objective, latency_threshold_s=threshold, window=window)
    if not isinstance(out, dict):
        fail_with(f"{call} returned {type(out).__name__}, expected a dict")
    want = model(records, objective, threshold, window)
    for key, exp in want.items():
        if key not in out:
            fail_with(f"{call} has no key {key!r}")
        got = out[key]
        if exp is None:
            if got is not None:
                fail_with(f"{call}[{key!r}] is {got!r}; with no non-error request in the window it should be None")
            continue
        if got is None:
            fail_with(f"{call}[{key!r}] is None, expected {exp!r} ({HINTS[key]})")
        if isinstance(exp, bool):
            if not isinstance(got, bool) and type(got).__name__ != "bool_":
                fail_with(f"{call}[{key!r}] should be a bool, got {type(got).__name__}")
            if bool(got) != exp:
                fail_with(f"{call}[{key!r}] is {bool(got)}, expected {exp} ({HINTS[key]})")
        elif isinstance(exp, int):
            if as_int(got, f"{call}[{key!r}]") != exp:
                fail_with(f"{call}[{key!r}] is {got!r}, expected {exp} ({HINTS[key]})")
        else:
            g = as_float(got, f"{call}[{key!r}]")
            if not math.isclose(g, exp, rel_tol=1e-9, abs_tol=1e-9):
                fail_with(f"{call}[{key!r}] is {g:g}, expected {exp:g} ({HINTS[key]})")
    return out


@points(1)
def test_percentile_by_hand(student):
    """percentile: nearest rank, the ceil(q/100*n)-th smallest value"""
    cases = [([15, 20, 35, 40, 50], 30, 20), ([15, 20, 35, 40, 50], 40, 20), ([15, 20, 35, 40, 50], 50, 35),
             ([15, 20, 35, 40, 50], 100, 50), ([15, 20, 35, 40, 50], 0, 15), ([3, 1, 2], 50, 2),
             (list(range(1, 101)), 95, 95), (list(range(1, 101)), 99, 99), (list(range(1, 1001)), 99, 990),
             ([7.5], 99, 7.5), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 51, 3)]
    for values, q, want in cases:
        given_values = list(values)
        call = f"percentile({values if len(values) < 10 else f'[1..{len(values)}]'}, {q})"
        got = as_float(student.percentile(given_values, q), call)
        if given_values != values:
            fail_with(f"{call} modified the list it was given")
        if got != want:
            hint = " (no interpolation: a percentile is one of the values)" if got != int(got) else ""
            fail_with(f"{call} returned {got:g}, expected {want:g}: the ceil(q / 100 * n)-th smallest{hint}")


@points(2)
@settings(max_examples=100, **QUICK)
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
       q=st.integers(0, 100))
def test_percentile_nearest_rank(student, values, q):
    """percentile(values, q) for any values and integer q in [0, 100]"""
    call = f"percentile({[float(v) for v in values]}, {q})"
    got = as_float(student.percentile(list(values), q), call)
    want = nearest_rank(values, q)
    if got != want:
        fail_with(f"{call} returned {got!r}, expected {want!r} (the ceil(q / 100 * n)-th smallest, 1-based; "
                  f"q = 0: the smallest)")
    # the property that makes nearest rank the natural choice for SLOs
    below = sum(1 for v in values if v <= got)
    if below < math.ceil(q * len(values) / 100):
        fail_with(f"{call} = {got!r} but only {below} of {len(values)} values are <= it")


@points(1)
def test_percentile_rejects_bad_input(student):
    """percentile raises ValueError for no values or q outside [0, 100]"""
    for values, q, why in [([], 50, "no values"), ([1.0, 2.0], 101, "q > 100"), ([1.0, 2.0], -1, "q < 0")]:
        try:
            student.percentile(values, q)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"percentile({values}, {q}) raised {type(exc).__name__}; expected ValueError ({why})")
        fail_with(f"percentile({values}, {q}) did not raise ValueError ({why})")


BY_HAND = [  # (t, latency_s, status)
    (0.0, 0.20, 200), (1.0, 0.30, 200), (2.0, 0.90, 200), (3.0, 0.10, 503), (4.0, 0.40, 429),
    (5.0, 0.25, 200), (6.0, 2.50, 200), (7.0, 0.35, 500), (8.0, 0.15, 200), (9.0, 0.45, 200),
    (10.0, 0.05, 200),          # t = 10 is outside the window [0, 10)
    (-0.5, 9.0, 500),           # before the window
]


@points(2)
def test_report_by_hand(student):
    """slo_report of a small window: counts, availability, percentiles, budget and burn rate"""
    out = check_report(student, BY_HAND, 0.9, 0.5, (0.0, 10.0))
    # spelled out, so that the feedback can name the exact mistake
    if as_int(out["requests"], "requests") != 10:
        fail_with("the window [0, 10) holds 10 requests")
    check_report(student, BY_HAND, 0.75, 1.0, (5.0, 11.0))


@points(2)
@settings(max_examples=100, **QUICK)
@given(records=st.lists(st.tuples(st.integers(0, 20).map(float), st.integers(1, 40).map(lambda x: x / 20),
                                  st.sampled_from([200, 200, 200, 201, 404, 429, 500, 502, 503])),
                        min_size=0, max_size=40),
       objective=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999]),
       threshold=st.sampled_from([0.25, 0.5, 1.0, 1.5]),
       window=st.sampled_from([(0.0, 21.0), (5.0, 15.0), (0.0, 10.0), (10.0, 20.0), (3.5, 4.5)]))
def test_report_any_window(student, records, objective, threshold, window):
    """slo_report agrees with the definitions on any records, objective, threshold and window"""
    check_report(student, records, objective, threshold, window)


@points(1)
def test_report_edges(student):
    """empty windows, objective/window validation, and a generator of records"""
    check_report(student, [(50.0, 1.0, 500)], 0.99, 0.5, (0.0, 10.0))
    check_report(student, [], 0.99, 0.5, (0.0, 10.0))
    check_report(student, [(1.0, 0.1, 503), (2.0, 0.2, 500)], 0.99, 0.5, (0.0, 10.0))
    recs = [(float(i), 0.1 * (i % 7), 200 if i % 11 else 500) for i in range(100)]
    out = student.slo_report((r for r in recs), objective=0.9, latency_threshold_s=0.45, window=(0.0, 100.0))
    want = model(recs, 0.9, 0.45, (0.0, 100.0))
    if not isinstance(out, dict) or out.get("requests") != want["requests"]:
        fail_with("slo_report(<a generator of 100 records>, ...) should read the records once and count "
                  f"{want['requests']} requests, got {out.get('requests') if isinstance(out, dict) else out!r}")
    for kwargs, why in [(dict(objective=1.0, latency_threshold_s=0.5, window=(0, 10)), "objective 1.0 leaves no budget"),
                        (dict(objective=0.0, latency_threshold_s=0.5, window=(0, 10)), "objective 0"),
                        (dict(objective=0.99, latency_threshold_s=0.5, window=(10, 10)), "an empty window")]:
        try:
            student.slo_report(list(BY_HAND), **kwargs)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"slo_report(..., {kwargs}) raised {type(exc).__name__}; expected ValueError ({why})")
        fail_with(f"slo_report(..., {kwargs}) did not raise ValueError ({why})")
