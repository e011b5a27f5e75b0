"""Hidden grader: aggregating profiler events into a top-k self-time table (Lab 2.5, notebook 02).

Rows: one per op name, sorted by total self time descending (ties by name), the first k, then one
row named "other" holding the rest if any remain; share = self_us / total self time of all events.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, as_int, close, fail_with, points

EXERCISES = ["profile_summary"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30

EVENTS = [{"name": "aten::mm", "self_us": 50.0}, {"name": "aten::add", "self_us": 5.0},
          {"name": "aten::mm", "self_us": 30.0}, {"name": "aten::silu", "self_us": 10.0},
          {"name": "aten::copy_", "self_us": 4.0}, {"name": "aten::add", "self_us": 1.0}]


def expected(events, k):
    totals, calls = {}, {}
    for e in events:
        totals[e["name"]] = totals.get(e["name"], 0.0) + e["self_us"]
        calls[e["name"]] = calls.get(e["name"], 0) + 1
    total = sum(totals.values())
    ranked = sorted(totals, key=lambda n: (-totals[n], n))
    rows = [(n, totals[n], calls[n]) for n in ranked[:k]]
    if ranked[k:]:
        rows.append(("other", sum(totals[n] for n in ranked[k:]), sum(calls[n] for n in ranked[k:])))
    return [(n, us, c, us / total if total > 0 else 0.0) for n, us, c in rows]


def rows_of(student, events, k):
    call = f"profile_summary(<{len(events)} events>, k={k})"
    res = student.profile_summary(events, k=k)
    try:
        res = list(res)
    except TypeError:
        fail_with(f"{call} should return a list of dicts, got {type(res).__name__}")
    out = []
    for i, r in enumerate(res):
        if not isinstance(r, dict) or not {"name", "self_us", "calls", "share"} <= set(r):
            fail_with(f"{call}[{i}] should be a dict with keys name, self_us, calls, share; got {str(r)[:80]}")
        out.append((str(r["name"]), as_float(r["self_us"], f"{call}[{i}]['self_us']"),
                    as_int(r["calls"], f"{call}[{i}]['calls']"), as_float(r["share"], f"{call}[{i}]['share']")))
    return call, out


def compare(student, events, k):
    call, got = rows_of(student, events, k)
    want = expected(events, k)
    if [g[0] for g in got] != [w[0] for w in want]:
        fail_with(f"{call} gave the rows {[g[0] for g in got]}; expected {[w[0] for w in want]} (sorted by total "
                  "self time, ties by name, then 'other' if names remain)")
    for g, w in zip(got, want):
        if not close(g[1], w[1], rel=1e-9, abs_=1e-9) or g[2] != w[2] or not close(g[3], w[3], rel=1e-9, abs_=1e-12):
            fail_with(f"{call}: row {g[0]!r} is (self_us={g[1]}, calls={g[2]}, share={g[3]:.6g}); expected "
                      f"(self_us={w[1]}, calls={w[2]}, share={w[3]:.6g})")


@points(2)
def test_aggregates_by_name(student):
    """events of the same op are summed (self time and call count) and ranked by self time"""
    compare(student, EVENTS, 10)


@points(2)
def test_top_k_and_other(student):
    """only the k largest names are listed; the rest is one 'other' row, so the shares still sum to 1"""
    compare(student, EVENTS, 2)
    compare(student, EVENTS, 4)
    _, rows = rows_of(student, EVENTS, 1)
    if not close(sum(r[3] for r in rows), 1.0, rel=1e-9):
        fail_with(f"the shares of profile_summary(events, k=1) sum to {sum(r[3] for r in rows)}; expected 1")


@points(1)
def test_ties_and_edge_cases(student):
    """ties are broken by name; no events gives []; zero total time gives shares of 0"""
    ties = [{"name": "b", "self_us": 2.0}, {"name": "a", "self_us": 2.0}, {"name": "c", "self_us": 2.0}]
    compare(student, ties, 2)
    compare(student, [], 3)
    compare(student, [{"name": "x", "self_us": 0.0}, {"name": "y", "self_us": 0.0}], 5)


@points(1)
def test_rejects_bad_input(student):
    """k < 1 or a negative self time raises ValueError"""
    for events, k in [(EVENTS, 0), ([{"name": "x", "self_us": -1.0}], 3)]:
        try:
            student.profile_summary(events, k=k)
        except ValueError:
            continue
        except Exception as e:
            fail_with(f"profile_summary({str(events)[:40]}..., k={k}) raised {type(e).__name__}; expected ValueError")
        fail_with(f"profile_summary({str(events)[:40]}..., k={k}) returned; expected ValueError")


@points(2)
@settings(max_examples=150, deadline=None)
@given(events=st.lists(st.fixed_dictionaries({"name": st.sampled_from(["mm", "add", "silu", "copy", "bmm", "cat", "mul"]),
                                              "self_us": st.floats(0, 1e4, allow_nan=False)}), max_size=40),
       k=st.integers(1, 8))
def test_random_traces(student, events, k):
    """any trace: the rows, totals, calls and shares match the definition"""
    compare(student, events, k)
