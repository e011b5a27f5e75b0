"""Hidden grader: the expected best score of random search (Lab 2.5, notebook 03).

Random search draws k distinct configs uniformly without replacement from a grid of n configs whose scores
are known; its result is the best of the k scores. The expectation over all C(n, k) subsets is exact by
order statistics: with the scores sorted ascending s_1 <= ... <= s_n, the best of the subset is s_i with
probability C(i-1, k-1) / C(n, k) (ties need no special care on the sorted list). The reference here is
independent of that formula: a brute force over itertools.combinations with exact fractions for small grids,
and the survival form E = s_1 + sum_i (s_{i+1} - s_i) * (1 - C(i, k) / C(n, k)) in exact fractions for large
ones.
"""
from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["expected_best_of_random"]
TIMEOUT_S = 120


def brute_force(scores, k) -> Fraction:
    subsets = list(itertools.combinations([Fraction(s) for s in scores], k))
    return sum((max(c) for c in subsets), Fraction(0)) / len(subsets)


def survival(scores, k) -> Fraction:
    s = sorted(Fraction(x) for x in scores)
    n, total = len(s), math.comb(len(s), k)
    out = s[0]
    for i in range(1, n):            # P(best > s_i) = 1 - P(all k among the i smallest)
        out += (s[i] - s[i - 1]) * (1 - Fraction(math.comb(i, k), total))
    return out


def call_of(scores, k):
    text = repr(scores)
    if len(text) > 300:
        text = text[:297] + "...]"
    return f"expected_best_of_random({text}, {k})"


def ask(student, scores, k):
    call = call_of(scores, k)
    try:
        out = student.expected_best_of_random(list(scores), k)
    except ValueError as e:
        fail_with(f"{call} raised ValueError ({e}); k is within 1..len(scores), so it should return a number")
    return call, as_float(out, call)


def check(student, scores, k, want, rel=1e-9, abs_=1e-12):
    call, got = ask(student, scores, k)
    if not math.isclose(got, float(want), rel_tol=rel, abs_tol=abs_):
        fail_with(f"{call} returned {got!r}; the expected best over all C({len(scores)}, {k}) = "
                  f"{math.comb(len(scores), k)} equally likely subsets is {float(want)!r}")
    return got


@points(2)
@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.integers(0, 6), min_size=1, max_size=9), data=st.data())
def test_exact_on_small_grids(student, scores, data):
    """equals the average of max() over every k-subset (small grids with ties, exact fractions)"""
    k = data.draw(st.integers(1, len(scores)), label="k")
    check(student, scores, k, brute_force(scores, k))


@points(1)
def test_worked_examples(student):
    """worked examples: a 4-config grid in two orders, ties (once per config), all tied, negative scores"""
    check(student, [1, 2, 3, 4], 2, Fraction(10, 3))        # (2*1 + 3*2 + 4*3) / 6
    check(student, [4, 1, 3, 2], 2, Fraction(10, 3))        # the order of the grid does not matter
    check(student, [0, 0, 0, 4], 2, Fraction(2))            # the 4 is in half of the 6 pairs
    check(student, [0, 0, 0, 4], 1, Fraction(1))            # k = 1: the mean
    check(student, [5, 5, 5], 2, Fraction(5))               # all tied
    check(student, [0.5, 2.5, 1.0, 0.0, 3.0], 3, Fraction(53, 20))   # (1*1.0 + 3*2.5 + 6*3.0) / 10
    check(student, [-3.0, -1.0, -2.0], 2, Fraction(-4, 3))  # negative scores


@points(1)
@settings(max_examples=120, deadline=None)
@given(scores=st.lists(st.floats(-100, 100, allow_nan=False, allow_infinity=False), min_size=1, max_size=64),
       seed=st.integers(0, 2**16))
def test_properties(student, scores, seed):
    """k = n gives the max, k = 1 the mean, the value never decreases with k, and the order of the grid is irrelevant"""
    n = len(scores)
    tol = 1e-9 * max(1.0, max(abs(s) for s in scores))
    _, top = ask(student, scores, n)
    if not math.isclose(top, max(scores), rel_tol=1e-9, abs_tol=tol):
        fail_with(f"{call_of(scores, n)} returned {top!r}; with k = n every config is measured, so it is max = "
                  f"{max(scores)!r}")
    _, one = ask(student, scores, 1)
    mean = float(sum(Fraction(s) for s in scores) / n)
    if not math.isclose(one, mean, rel_tol=1e-9, abs_tol=tol):
        fail_with(f"{call_of(scores, 1)} returned {one!r}; with k = 1 it is the mean score {mean!r}")
    ks = sorted({1, n, *random.Random(seed).sample(range(1, n + 1), min(n, 6))})
    values = [ask(student, scores, k)[1] for k in ks]
    for (k1, v1), (k2, v2) in zip(zip(ks, values), zip(ks[1:], values[1:])):
        if v2 < v1 - tol:
            fail_with(f"{call_of(scores, k1)} returned {v1!r} but k = {k2} gave {v2!r}, less; sampling more "
                      f"configs can never lower the expected best")
    k = ks[len(ks) // 2]
    shuffled = list(scores)
    random.Random(seed + 1).shuffle(shuffled)
    _, a = ask(student, scores, k)
    _, b = ask(student, shuffled, k)
    if not math.isclose(a, b, rel_tol=1e-9, abs_tol=tol):
        fail_with(f"{call_of(scores, k)} returned {a!r} but the same scores in another order gave {b!r}; "
                  f"the grid's order must not matter")
    check(student, scores, k, survival(scores, k), rel=1e-9, abs_=tol)


@points(1)
def test_large_grids(student):
    """exact for grids of thousands of configs (no float overflow or underflow of C(n, k))"""
    rng = random.Random(5)
    for n, ks in ((64, (1, 7, 32, 63, 64)), (1500, (2, 100, 750, 1499)), (3000, (1500, 2999))):
        scores = [rng.randrange(0, 50) / 4 for _ in range(n)]
        for k in ks:
            check(student, scores, k, survival(scores, k), rel=1e-9, abs_=1e-9)


@points(1)
def test_invalid_arguments(student):
    """k outside 1..len(scores), or no scores at all, raises ValueError"""
    for scores, k in (([1.0, 2.0, 3.0], 0), ([1.0, 2.0, 3.0], 4), ([1.0, 2.0], -1), ([], 1), ([], 0)):
        try:
            out = student.expected_best_of_random(list(scores), k)
        except ValueError:
            continue
        except Exception as e:
            fail_with(f"{call_of(scores, k)} raised {type(e).__name__}: {e}; expected ValueError")
        fail_with(f"{call_of(scores, k)} returned {out!r}; expected ValueError (k must be in 1..len(scores))")
