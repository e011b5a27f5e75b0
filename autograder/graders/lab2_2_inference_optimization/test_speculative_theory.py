"""Hidden grader: the expected gain of speculative decoding (Lab 2.2, notebook 02).

Expected values come from first principles: a step yields 1 + (number of accepted drafts) tokens,
and the i-th draft is reached and accepted with probability alpha^i, so the mean is the finite sum
1 + alpha + ... + alpha^gamma; a step costs gamma draft passes (c each, in target passes) plus one
target pass.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, as_int, fail_with, points

EXERCISES = ["speculative_theory"]
TIMEOUT_S = 60
TEST_TIMEOUT_S = 20


def tokens(alpha: float, gamma: int) -> float:
    return math.fsum(alpha ** i for i in range(gamma + 1))


def speedup(alpha: float, gamma: int, c: float) -> float:
    return tokens(alpha, gamma) / (gamma * c + 1)


def near(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def got_tokens(student, alpha, gamma) -> float:
    what = f"expected_tokens_per_step({alpha}, {gamma})"
    try:
        value = student.expected_tokens_per_step(alpha, gamma)
    except Exception as e:  # noqa: BLE001
        fail_with(f"{what} raised {type(e).__name__}: {e}")
    return as_float(value, what)


def got_speedup(student, alpha, gamma, c) -> float:
    what = f"expected_speedup({alpha}, {gamma}, {c})"
    try:
        value = student.expected_speedup(alpha, gamma, c)
    except Exception as e:  # noqa: BLE001
        fail_with(f"{what} raised {type(e).__name__}: {e}")
    return as_float(value, what)


@points(2)
def test_tokens_per_step_values(student):
    """expected_tokens_per_step: (1 - alpha^(gamma+1)) / (1 - alpha), with alpha = 0 and alpha = 1 handled"""
    cases = [(0.5, 1, 1.5), (0.5, 3, 1.875), (0.8, 4, 3.3616), (0.0, 5, 1.0), (0.9, 0, 1.0),
             (1.0, 4, 5.0), (1.0, 1, 2.0), (0.25, 2, 1.3125)]
    for alpha, gamma, want in cases:
        got = got_tokens(student, alpha, gamma)
        if not near(got, want):
            hint = ""
            if near(got, tokens(alpha, gamma) - alpha ** gamma):
                hint = " (that is 1 + alpha + ... + alpha^(gamma-1): the bonus/correction token is missing)"
            fail_with(f"expected_tokens_per_step({alpha}, {gamma}) returned {got}, expected {want}: a step yields "
                      f"1 + alpha + ... + alpha^gamma tokens on average{hint}")


@points(1)
@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 0.999), st.integers(0, 12))
def test_tokens_per_step_property(student, alpha, gamma):
    """expected_tokens_per_step equals 1 + alpha + ... + alpha^gamma for random alpha, gamma"""
    got = got_tokens(student, alpha, gamma)
    if not math.isclose(got, tokens(alpha, gamma), rel_tol=1e-7):
        fail_with(f"expected_tokens_per_step({alpha}, {gamma}) returned {got}, expected {tokens(alpha, gamma)}")


@points(2)
def test_speedup_values(student):
    """expected_speedup: tokens per step / (gamma c + 1), the step costing gamma draft passes + 1 target pass"""
    cases = [(0.8, 4, 0.1, 3.3616 / 1.4), (0.5, 1, 0.5, 1.0), (0.9, 3, 0.0, 3.439), (1.0, 3, 0.2, 4 / 1.6),
             (0.0, 2, 0.25, 1 / 1.5), (0.7, 0, 0.3, 1.0)]
    for alpha, gamma, c, want in cases:
        got = got_speedup(student, alpha, gamma, c)
        if not near(got, want):
            fail_with(f"expected_speedup({alpha}, {gamma}, {c}) returned {got}, expected {want:.6g}: "
                      f"(1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1))")


@points(1)
@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 0.999), st.integers(0, 12), st.floats(0.0, 2.0))
def test_speedup_property(student, alpha, gamma, c):
    """expected_speedup for random alpha, gamma, c"""
    got = got_speedup(student, alpha, gamma, c)
    if not math.isclose(got, speedup(alpha, gamma, c), rel_tol=1e-7):
        fail_with(f"expected_speedup({alpha}, {gamma}, {c}) returned {got}, expected {speedup(alpha, gamma, c)}")


def best_gamma(alpha, c, max_gamma):
    values = {g: speedup(alpha, g, c) for g in range(1, max_gamma + 1)}
    best = max(values, key=lambda g: (values[g], -g))
    return (best if values[best] > 1 else 0), values


def call_optimal(student, alpha, c, max_gamma):
    what = f"optimal_gamma({alpha}, {c}, max_gamma={max_gamma})"
    try:
        value = student.optimal_gamma(alpha, c, max_gamma=max_gamma)
    except Exception as e:  # noqa: BLE001
        fail_with(f"{what} raised {type(e).__name__}: {e}")
    return as_int(value, what), what


@points(2)
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 20), st.integers(0, 40), st.integers(1, 16))
def test_optimal_gamma(student, a20, c40, max_gamma):
    """optimal_gamma: the gamma in 1..max_gamma with the largest expected speedup, or 0 if none beats 1"""
    alpha, c = a20 / 20, c40 / 40
    want, values = best_gamma(alpha, c, max_gamma)
    ranked = sorted(values.values(), reverse=True)
    if (len(ranked) > 1 and math.isclose(ranked[0], ranked[1], rel_tol=1e-9)) or math.isclose(ranked[0], 1.0,
                                                                                              rel_tol=1e-9):
        return  # a near tie: any answer is defensible
    got, what = call_optimal(student, alpha, c, max_gamma)
    if got != want:
        if want == 0:
            fail_with(f"{what} returned {got}, expected 0: no gamma in 1..{max_gamma} beats plain decoding "
                      f"(best expected speedup {ranked[0]:.3f} <= 1), so do not speculate")
        fail_with(f"{what} returned {got}, expected {want} (expected speedup {values[want]:.4f}"
                  + (f" vs {values[got]:.4f} at gamma {got})" if got in values else ")"))
