"""Hidden grader: O'Brien-Fleming-type alpha spending and per-look levels (Lab 2.5, notebook 04).

alpha(t) = 2 - 2 Phi(Phi^-1(1 - alpha/2) / sqrt(t)), alpha(0) = 0; look k gets
alpha(n_k / n_max) - alpha(n_{k-1} / n_max), recomputed here.
"""
from __future__ import annotations

import math
from statistics import NormalDist

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["alpha_spending"]
TIMEOUT_S = 90
Z = NormalDist()


def spend(t, alpha):
    return 0.0 if t <= 0 else 2 - 2 * Z.cdf(Z.inv_cdf(1 - alpha / 2) / math.sqrt(t))


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-13)


@points(2)
@settings(max_examples=150, deadline=None)
@given(t=st.floats(0.0, 1.0), alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_obf_spending(student, t, alpha):
    """obf_spending(t, alpha) is the Lan-DeMets O'Brien-Fleming-type spending function"""
    call = f"obf_spending({t!r}, {alpha})"
    got = as_float(student.obf_spending(t, alpha), call)
    want = spend(t, alpha)
    if not close(got, want):
        fail_with(f"{call} returned {got:.8g}, expected {want:.8g} (2 - 2 Phi(z_(1-alpha/2) / sqrt(t)); 0 at t = 0)")


looks_st = st.lists(st.integers(1, 1000), min_size=1, max_size=12, unique=True).map(sorted)


@points(2)
@settings(max_examples=150, deadline=None)
@given(looks=looks_st, extra=st.integers(0, 500), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_spending_thresholds(student, looks, extra, alpha):
    """spending_thresholds gives each look the increment of the spending function since the previous look"""
    n_max = looks[-1] + extra
    call = f"spending_thresholds({looks}, {n_max}, {alpha})"
    out = student.spending_thresholds(list(looks), n_max, alpha)
    try:
        got = [as_float(v, f"{call} item") for v in out]
    except TypeError:
        fail_with(f"{call} returned {out!r:.100}; expected a list of floats")
    want, prev = [], 0.0
    for n in looks:
        cum = spend(n / n_max, alpha)
        want.append(cum - prev)
        prev = cum
    if len(got) != len(want) or not all(close(g, w) for g, w in zip(got, want)):
        fail_with(f"{call} returned {[f'{g:.4g}' for g in got]}, expected {[f'{w:.4g}' for w in want]} "
                  f"(alpha(n_k / n_max) - alpha(n_(k-1) / n_max))")
