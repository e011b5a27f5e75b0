"""Hidden grader: TTFT / ITL / TPOT / E2E and their percentiles (Lab 2.1, notebook 03).

The percentile method is the one the exercise documents: linear interpolation between the
closest ranks (numpy's default, Hyndman & Fan type 7), computed here from its definition.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["latency_metrics"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 20


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def type7(values, q):
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fmt(xs) -> str:
    text = "[" + ", ".join(f"{x:g}" for x in xs) + "]"
    return text if len(text) < 240 else text[:237] + "...]"


def metrics_of(student, arrival, times):
    call = f"request_latency({arrival:g}, {fmt(times)})"
    out = student.request_latency(arrival, list(times))
    if not isinstance(out, dict):
        fail_with(f"{call} returned {type(out).__name__}, expected a dict with keys ttft, e2e, tpot, itl")
    missing = {"ttft", "e2e", "tpot", "itl"} - set(out)
    if missing:
        fail_with(f"{call} returned a dict without {sorted(missing)}")
    return call, out


def check_request(student, arrival, times):
    call, out = metrics_of(student, arrival, times)
    ttft = as_float(out["ttft"], f"{call}['ttft']")
    e2e = as_float(out["e2e"], f"{call}['e2e']")
    if not close(ttft, times[0] - arrival):
        fail_with(f"{call}['ttft'] is {ttft:g}, expected {times[0] - arrival:g} (first token time - arrival)")
    if not close(e2e, times[-1] - arrival):
        fail_with(f"{call}['e2e'] is {e2e:g}, expected {times[-1] - arrival:g} (last token time - arrival)")
    try:
        itl = [as_float(v, f"{call}['itl'] item") for v in out["itl"]]
    except TypeError:
        fail_with(f"{call}['itl'] should be a list of gaps, got {out['itl']!r}")
    want_itl = [b - a for a, b in zip(times, times[1:])]
    if len(itl) != len(want_itl) or not all(close(a, b) for a, b in zip(itl, want_itl)):
        fail_with(f"{call}['itl'] is {fmt(itl)}, expected the {len(want_itl)} gaps between consecutive tokens "
                  f"{fmt(want_itl)}")
    if len(times) == 1:
        if out["tpot"] is not None:
            fail_with(f"{call}['tpot'] is {out['tpot']!r}; with a single token TPOT is undefined: return None")
    else:
        tpot = as_float(out["tpot"], f"{call}['tpot']")
        want = (times[-1] - times[0]) / (len(times) - 1)
        if not close(tpot, want):
            fail_with(f"{call}['tpot'] is {tpot:g}, expected (e2e - ttft) / (n - 1) = {want:g}")


sorted_times = st.tuples(
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 5, allow_nan=False),
    st.lists(st.one_of(st.just(0.0), st.floats(0, 2, allow_nan=False)), min_size=0, max_size=12),
).map(lambda t: (t[0], [t[0] + t[1] + sum(t[2][:i]) for i in range(len(t[2]) + 1)]))


@points(1)
def test_one_request_by_hand(student):
    """TTFT, E2E, ITL and TPOT of one request"""
    check_request(student, 1.0, [1.5, 1.75, 2.0, 2.75])
    check_request(student, 0.0, [0.25])


@points(2)
@settings(max_examples=100)
@given(req=sorted_times)
def test_request_metrics(student, req):
    """per-request metrics for any arrival and non-decreasing token times"""
    arrival, times = req
    check_request(student, arrival, times)


@points(1)
def test_bad_timestamps_raise(student):
    """ValueError on empty, unsorted or pre-arrival timestamps; equal timestamps are fine"""
    for arrival, times, why in [(0.0, [], "no tokens"), (0.0, [1.0, 3.0, 2.0], "token times that go back"),
                                (5.0, [4.0, 6.0], "a first token before the arrival")]:
        try:
            student.request_latency(arrival, times)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"request_latency({arrival:g}, {fmt(times)}) raised {type(exc).__name__}; "
                      f"expected ValueError ({why})")
        fail_with(f"request_latency({arrival:g}, {fmt(times)}) did not raise ValueError ({why})")
    check_request(student, 0.0, [1.0, 1.0, 1.0, 2.0])


@points(2)
@settings(max_examples=100)
@given(values=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=25),
       q=st.one_of(st.sampled_from([0, 50, 90, 99, 100]), st.floats(0, 100)))
def test_percentile_linear_interpolation(student, values, q):
    """percentile interpolates linearly between the closest ranks (numpy's default)"""
    given_values = list(values)
    call = f"percentile({fmt(values)}, {q:g})"
    got = as_float(student.percentile(given_values, q), call)
    if given_values != values:
        fail_with(f"{call} modified the list it was given")
    want = type7(values, q)
    if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9):
        fail_with(f"{call} returned {got:g}, expected {want:g} (sorted values, position (m - 1) * q / 100, "
                  f"linear interpolation)")


@points(1)
def test_summary_over_requests(student):
    """latency_summary: p50/p90/p99 of each metric; ITL pools all gaps; TPOT skips one-token requests"""
    reqs = [(0.0, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),    # many fast gaps
            (0.0, [2.0, 4.0]),                         # one slow gap
            (1.0, [1.25]),                             # a single token: no TPOT, no gap
            (0.5, [1.5, 1.75, 2.5])]
    call = "latency_summary(<4 requests>)"
    out = student.latency_summary([(a, list(t)) for a, t in reqs])
    if not isinstance(out, dict):
        fail_with(f"{call} returned {type(out).__name__}, expected a dict")
    ttft = [0.5, 2.0, 0.25, 1.0]
    e2e = [1.0, 4.0, 0.25, 2.0]
    tpot = [0.1, 2.0, 0.5]
    itl = [0.1] * 5 + [2.0, 0.25, 0.75]
    for name, vals in [("ttft", ttft), ("e2e", e2e), ("tpot", tpot), ("itl", itl)]:
        entry = out.get(name)
        if not isinstance(entry, dict):
            fail_with(f"{call}[{name!r}] is {entry!r}, expected a dict with p50, p90, p99")
        for q in (50, 90, 99):
            if f"p{q}" not in entry:
                fail_with(f"{call}[{name!r}] has no key 'p{q}'")
            got = as_float(entry[f"p{q}"], f"{call}[{name!r}]['p{q}']")
            want = type7([float(v) for v in vals], q)
            if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9):
                hint = {"itl": " (pool the gaps of all requests)",
                        "tpot": " (TPOT of the requests with more than one token)"}.get(name, "")
                fail_with(f"{call}[{name!r}]['p{q}'] is {got:g}, expected {want:g}{hint}")
    single = student.latency_summary([(0.0, [1.0]), (0.0, [2.0])])
    if not isinstance(single, dict) or single.get("itl") is not None or single.get("tpot") is not None:
        fail_with("latency_summary of requests with one token each should have itl None and tpot None, got "
                  f"{single!r}")
