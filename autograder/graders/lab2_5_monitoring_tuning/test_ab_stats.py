"""Hidden grader: Mann-Whitney U (normal approximation, tie correction) and the pooled two-proportion
z-test (Lab 2.5, notebook 04).

Expected values are computed here from the definitions (pair counting for U, the tie-corrected
variance, erfc for the two-sided p) and, for Mann-Whitney, cross-checked against scipy's
``mannwhitneyu(..., use_continuity=False, alternative="two-sided", method="asymptotic")``.
"""
from __future__ import annotations

import math
from collections import Counter

import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["ab_stats"]
TIMEOUT_S = 120


def close(a: float, b: float, rel: float = 1e-7, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def want_mw(a, b):
    n1, n2 = len(a), len(b)
    u = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
    n = n1 + n2
    ties = sum(t ** 3 - t for t in Counter(list(a) + list(b)).values())
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return u, 0.0, 1.0
    z = (u - n1 * n2 / 2) / math.sqrt(var)
    return u, z, math.erfc(abs(z) / math.sqrt(2))


def fmt(xs) -> str:
    text = "[" + ", ".join(f"{x:g}" for x in xs) + "]"
    return text if len(text) < 200 else text[:197] + "...]"


def result(out, call, keys):
    if not isinstance(out, dict) or not set(keys) <= set(out):
        fail_with(f"{call} returned {out!r:.120}; expected a dict with keys {list(keys)}")
    return [as_float(out[k], f"{call}[{k!r}]") for k in keys]


samples = st.lists(st.integers(0, 12).map(float), min_size=1, max_size=25)


@points(3)
@settings(max_examples=120, deadline=None)
@given(a=samples, b=samples)
def test_mann_whitney_u_counts_pairs_with_half_ties(student, a, b):
    """u counts the pairs where a's value is larger, ties counting one half"""
    call = f"mann_whitney({fmt(a)}, {fmt(b)})"
    u, = result(student.mann_whitney(list(a), list(b)), call, ["u"])
    want, _, _ = want_mw(a, b)
    if not close(u, want, 1e-9, 1e-9):
        fail_with(f"{call}['u'] is {u:g}, expected {want:g} (pairs with a > b, plus 0.5 per tied pair)")


@points(3)
@settings(max_examples=120, deadline=None)
@given(a=samples, b=samples)
def test_mann_whitney_z_and_p_match_scipy(student, a, b):
    """z and the two-sided p use the tie-corrected variance without continuity correction (as scipy)"""
    call = f"mann_whitney({fmt(a)}, {fmt(b)})"
    z, p = result(student.mann_whitney(list(a), list(b)), call, ["z", "p"])
    _, wz, wp = want_mw(a, b)
    if wp < 1.0:
        ref = scipy.stats.mannwhitneyu(a, b, use_continuity=False, alternative="two-sided", method="asymptotic")
        assert close(float(ref.pvalue), wp, 1e-6), "grader self-check against scipy failed"
    if not close(z, wz, 1e-7, 1e-9):
        fail_with(f"{call}['z'] is {z:.6g}, expected {wz:.6g} ((u - n1*n2/2) / sigma with the tie-corrected "
                  f"sigma, no continuity correction; 0 when sigma is 0)")
    if not close(p, wp, 1e-6, 1e-12):
        fail_with(f"{call}['p'] is {p:.6g}, expected {wp:.6g} (two-sided: 2 * (1 - Phi(|z|)); 1.0 when sigma is 0)")


@points(1)
def test_mann_whitney_detects_a_shift(student):
    """a clearly larger sample gives a large positive z and a tiny p; identical samples give p = 1"""
    a = [float(x) for x in range(100, 160)]
    b = [float(x) for x in range(0, 60)]
    z, p = result(student.mann_whitney(a, b), "mann_whitney(range(100, 160), range(0, 60))", ["z", "p"])
    if not (z > 8 and p < 1e-12):
        fail_with(f"mann_whitney(range(100, 160), range(0, 60)) gave z = {z:.4g}, p = {p:.4g}; every value of a "
                  f"is larger, so z should be about {want_mw(a, b)[1]:.4g} and p about {want_mw(a, b)[2]:.3g}")
    z, p = result(student.mann_whitney([3.0] * 5, [3.0] * 7), "mann_whitney([3.0]*5, [3.0]*7)", ["z", "p"])
    if z != 0.0 or p != 1.0:
        fail_with(f"mann_whitney([3.0]*5, [3.0]*7) gave z = {z!r}, p = {p!r}; all values tie, sigma is 0: "
                  f"expected z = 0.0 and p = 1.0")


def want_prop(xa, na, xb, nb):
    pooled = (xa + xb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if se == 0:
        return 0.0, 1.0
    z = (xb / nb - xa / na) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


arms = st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@points(3)
@settings(max_examples=150, deadline=None)
@given(arm_a=arms, arm_b=arms)
def test_two_proportion_ztest(student, arm_a, arm_b):
    """two_proportion_ztest uses the pooled standard error, z = rate_B - rate_A over it, two-sided p"""
    (xa, na), (xb, nb) = arm_a, arm_b
    call = f"two_proportion_ztest({xa}, {na}, {xb}, {nb})"
    z, p = result(student.two_proportion_ztest(xa, na, xb, nb), call, ["z", "p"])
    wz, wp = want_prop(xa, na, xb, nb)
    if not close(z, wz, 1e-7, 1e-9):
        fail_with(f"{call}['z'] is {z:.6g}, expected {wz:.6g} ((x_b/n_b - x_a/n_a) / pooled standard error; "
                  f"0 when the standard error is 0)")
    if not close(p, wp, 1e-6, 1e-12):
        fail_with(f"{call}['p'] is {p:.6g}, expected {wp:.6g} (two-sided; 1.0 when the standard error is 0)")
