"""Hidden grader: PromQL's histogram_quantile on classic histogram buckets (Lab 2.5, notebook 01).

The expected values come from a small model of Prometheus' bucketQuantile (promql/quantile.go, v2.42)
written here: sort by upper bound, merge equal bounds, force cumulative counts to be non-decreasing,
rank = q * count(+Inf); the first finite bucket whose count reaches the rank is interpolated linearly
from the previous bound (0 for the lowest bucket); past the last finite bucket the answer is that
bucket's upper bound; NaN without a +Inf bucket, with < 2 buckets or no observations; q<0 -> -Inf, q>1 -> +Inf.
The same cases were checked against promtool 2.42 when this grader was written.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["histogram_quantile"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30
INF = math.inf


def model(q, buckets):
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -INF
    if q > 1:
        return INF
    acc = {}
    for le, c in buckets:
        acc[float(le)] = acc.get(float(le), 0.0) + float(c)
    les = sorted(acc)
    if not les or les[-1] != INF:
        return math.nan
    counts, top = [], -INF
    for le in les:
        top = max(top, acc[le])
        counts.append(top)
    if len(les) < 2 or counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    b = len(les) - 1
    for i in range(len(les) - 1):
        if counts[i] >= rank:
            b = i
            break
    if b == len(les) - 1:
        return les[-2]
    if b == 0 and les[0] <= 0:
        return les[0]
    lo = les[b - 1] if b > 0 else 0.0
    below = counts[b - 1] if b > 0 else 0.0
    n = counts[b] - below
    if n == 0:
        return math.nan
    return lo + (les[b] - lo) * ((rank - below) / n)


def show(buckets):
    return "[" + ", ".join(f"({'inf' if le == INF else le}, {c})" for le, c in buckets) + "]"


def check(student, q, buckets, why=""):
    call = f"histogram_quantile({q}, {show(buckets)})"
    got = as_float(student.histogram_quantile(q, list(buckets)), call)
    want = model(q, buckets)
    same = (math.isnan(got) and math.isnan(want)) or got == want or (
        not math.isinf(want) and not math.isnan(want) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12))
    if not same:
        fail_with(f"{call} returned {got}; Prometheus answers {want}" + (f" ({why})" if why else ""))


TTFT = [(0.05, 3), (0.1, 10), (0.25, 40), (0.5, 90), (1.0, 98), (INF, 100)]


@points(3)
def test_linear_interpolation_inside_the_bucket(student):
    """the quantile is interpolated linearly inside the bucket that holds the rank"""
    check(student, 0.5, TTFT, "rank 50 lies in (0.25, 0.5]: 0.25 + 0.25 x (50-40)/50")
    check(student, 0.95, TTFT, "rank 95 lies in (0.5, 1.0]")
    check(student, 0.1, TTFT, "rank 10 is exactly the count of le=0.1")
    check(student, 0.9, TTFT)


@points(2)
def test_lowest_bucket_starts_at_zero(student):
    """the lowest bucket is interpolated from 0 (or its bound is returned when it is <= 0)"""
    check(student, 0.01, TTFT, "rank 1 lies in the lowest bucket, which starts at 0")
    check(student, 0.5, [(0.2, 10), (INF, 10)])
    check(student, 0.3, [(-1.0, 5), (0.0, 8), (1.0, 10), (INF, 10)], "a lowest bound <= 0 is returned as is")


@points(2)
def test_inf_bucket(student):
    """a rank beyond the last finite bucket gives that bucket's upper bound"""
    check(student, 0.99, TTFT, "rank 99 is only reached by +Inf: answer 1.0, the largest finite bound")
    check(student, 1.0, [(0.1, 1), (0.5, 2), (INF, 7)])
    check(student, 0.5, [(INF, 5)], "a +Inf bucket alone: NaN")


@points(2)
def test_nan_and_out_of_range(student):
    """NaN without a +Inf bucket or observations; -Inf / +Inf for q outside [0, 1]"""
    check(student, 0.5, [(0.1, 3), (1.0, 5)], "no +Inf bucket")
    check(student, 0.5, [(0.1, 0), (1.0, 0), (INF, 0)], "no observations")
    check(student, -0.1, TTFT, "q < 0 gives -Inf")
    check(student, 1.5, TTFT, "q > 1 gives +Inf")


@points(1)
def test_unsorted_duplicate_and_non_monotonic(student):
    """buckets in any order; equal bounds are merged; decreasing counts are raised to the previous one"""
    check(student, 0.5, list(reversed(TTFT)), "the buckets come in any order")
    check(student, 0.5, [(0.1, 5), (0.5, 3), (1.0, 9), (INF, 9)], "le=0.5 counts 3 < 5: Prometheus treats it as 5")
    check(student, 0.7, [(0.1, 2), (0.5, 6), (1.0, 4), (2.0, 8), (INF, 10)],
          "le=1.0 counts 4 < 6: Prometheus treats it as 6, so (1.0, 2.0] holds 2 observations, not 4")
    check(student, 0.5, [(0.1, 2), (0.1, 2), (1.0, 6), (INF, 8)], "two series with le=0.1 are added")


BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]


@st.composite
def histograms(draw):
    les = sorted(draw(st.sets(st.sampled_from(BOUNDS), min_size=1, max_size=8)))
    incs = draw(st.lists(st.integers(0, 50), min_size=len(les) + 1, max_size=len(les) + 1))
    out, c = [], 0
    for le, inc in zip(les + [INF], incs):
        c += inc
        out.append((le, c))
    return draw(st.permutations(out))


@points(2)
@settings(max_examples=200, deadline=None)
@given(buckets=histograms(), q=st.floats(0, 1, allow_nan=False))
def test_matches_prometheus_on_random_histograms(student, buckets, q):
    """any histogram and quantile: the same answer as Prometheus"""
    check(student, q, buckets)
