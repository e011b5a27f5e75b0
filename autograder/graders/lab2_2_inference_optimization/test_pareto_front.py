"""Hidden grader: the latency/throughput Pareto front (Lab 2.2, notebook 04).

Expectations come from the definition, by brute force over all pairs.
"""
from __future__ import annotations

import math

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points

EXERCISES = ["pareto_front"]
TIMEOUT_S = 60
TEST_TIMEOUT_S = 30
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)


def dominates(b, a):
    return (b["latency_ms"] <= a["latency_ms"] and b["throughput"] >= a["throughput"]
            and (b["latency_ms"] < a["latency_ms"] or b["throughput"] > a["throughput"]))


def expected(results):
    front = [a for a in results if not any(dominates(b, a) for b in results)]
    return [r["name"] for r in sorted(front, key=lambda r: (r["latency_ms"], -r["throughput"], r["name"]))]


def run(student, results):
    shown = [(r["name"], r["latency_ms"], r["throughput"]) for r in results]
    try:
        got = student.pareto_front([dict(r) for r in results])
    except Exception as exc:  # noqa: BLE001
        fail_with(f"pareto_front on (name, latency_ms, throughput) = {shown} raised {type(exc).__name__}: {exc}")
    try:
        got = [str(n) if isinstance(n, str) else n for n in list(got)]
    except Exception:  # noqa: BLE001
        fail_with(f"pareto_front returned {type(got).__name__}, expected a list of names")
    if not all(isinstance(n, str) for n in got):
        fail_with(f"pareto_front returned {got!r}, expected a list of names (str)")
    return shown, got


def why(results, got, want):
    by = {r["name"]: r for r in results}
    for n in got:
        if n not in want and n in by:
            a = by[n]
            d = next(b for b in results if dominates(b, a))
            return (f"{n!r} ({a['latency_ms']} ms, {a['throughput']} tok/s) is dominated by {d['name']!r} "
                    f"({d['latency_ms']} ms, {d['throughput']} tok/s)")
    for n in want:
        if n not in got:
            a = by[n]
            return (f"{n!r} ({a['latency_ms']} ms, {a['throughput']} tok/s) is not dominated by any other "
                    f"configuration (an equal one does not dominate it)")
    return "same names, wrong order: sort by latency_ms ascending, ties by throughput descending, then by name"


values = st.integers(0, 12).map(lambda k: k * 2.5)
result_lists = st.lists(st.tuples(values, values), min_size=0, max_size=9).map(
    lambda pts: [{"name": f"cfg{i}", "latency_ms": lat, "throughput": thr} for i, (lat, thr) in enumerate(pts)])


@points(3)
@settings(max_examples=200, **QUICK)
@given(result_lists)
def test_front_is_the_set_of_non_dominated(student, results):
    """exactly the configurations that no other one beats on both axes (equal ones do not dominate)"""
    shown, got = run(student, results)
    want = expected(results)
    if sorted(got) != sorted(want):
        fail_with(f"pareto_front({shown}) returned {got}, expected {want}: {why(results, got, want)}")


@points(1)
@settings(max_examples=100, **QUICK)
@given(result_lists)
def test_front_is_sorted(student, results):
    """the names come sorted by latency ascending (ties: throughput descending, then name)"""
    shown, got = run(student, results)
    want = expected(results)
    if sorted(got) == sorted(want) and got != want:
        fail_with(f"pareto_front({shown}) returned {got}, expected the order {want}: sort by latency_ms "
                  f"ascending, ties by throughput descending, then by name")


@points(1)
def test_measured_example(student):
    """a table like the notebook's: baseline, +prefix, +spec, +int8 and a duplicate measurement"""
    results = [dict(name="baseline", latency_ms=12.0, throughput=150.0),
               dict(name="+prefix", latency_ms=12.0, throughput=150.0),      # equal: both stay
               dict(name="+spec", latency_ms=8.0, throughput=260.0),
               dict(name="+int8", latency_ms=6.0, throughput=200.0),
               dict(name="+spec+int8", latency_ms=8.0, throughput=250.0),    # dominated by +spec
               dict(name="all", latency_ms=20.0, throughput=400.0)]
    shown, got = run(student, results)
    want = ["+int8", "+spec", "all"]
    if got != want:
        fail_with(f"pareto_front({shown}) returned {got}, expected {want}: {why(results, got, want)}")
    results = [dict(name="b", latency_ms=5, throughput=100), dict(name="a", latency_ms=5, throughput=100)]
    shown, got = run(student, results)
    if got != ["a", "b"]:
        fail_with(f"pareto_front({shown}) returned {got}, expected ['a', 'b']: equal points both stay, "
                  f"ties sorted by name")


@points(1)
def test_invalid_input_raises_value_error(student):
    """missing keys, negative or non-finite numbers and duplicate names raise ValueError"""
    ok = dict(name="x", latency_ms=1.0, throughput=2.0)
    bad = [("a missing 'throughput'", [dict(name="x", latency_ms=1.0)]),
           ("a missing 'name'", [dict(latency_ms=1.0, throughput=1.0)]),
           ("a negative latency", [ok, dict(name="y", latency_ms=-1.0, throughput=2.0)]),
           ("a negative throughput", [dict(name="y", latency_ms=1.0, throughput=-2.0)]),
           ("a NaN latency", [dict(name="y", latency_ms=math.nan, throughput=2.0)]),
           ("an infinite throughput", [dict(name="y", latency_ms=1.0, throughput=math.inf)]),
           ("a latency given as a string", [dict(name="y", latency_ms="1.0", throughput=2.0)]),
           ("a duplicate name", [ok, dict(ok, latency_ms=0.5)])]
    for what, results in bad:
        try:
            got = student.pareto_front(results)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"pareto_front with {what} raised {type(exc).__name__}: {exc}; expected ValueError")
        fail_with(f"pareto_front with {what} returned {got!r}; expected ValueError")
    got = student.pareto_front([])
    if list(got) != []:
        fail_with(f"pareto_front([]) returned {got!r}, expected []")
