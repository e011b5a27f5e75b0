"""Hidden grader: samples per arm for a two-proportion test and a difference in means (Lab 2.5, notebook 04).

n = ceil((z_a sqrt(2 pbar (1 - pbar)) + z_b sqrt(pA(1-pA) + pB(1-pB)))^2 / (pA - pB)^2) and
n = ceil(2 (z_a + z_b)^2 sigma^2 / delta^2), z_a = Phi^-1(1 - alpha/2), z_b = Phi^-1(power), recomputed here.
A value within 1e-9 of an integer accepts that integer or the next one (floating-point rounding).
"""
from __future__ import annotations

import math
from statistics import NormalDist

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["sample_size"]
TIMEOUT_S = 90
Z = NormalDist()


def accepted(raw: float) -> set[int]:
    r = round(raw)
    if abs(raw - r) < 1e-9 * max(1.0, raw):
        return {r, r + 1}
    return {math.ceil(raw)}


def raw_props(pa, pb, alpha, power):
    za, zb = Z.inv_cdf(1 - alpha / 2), Z.inv_cdf(power)
    pbar = (pa + pb) / 2
    return (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(pa * (1 - pa) + pb * (1 - pb))) ** 2 / (pa - pb) ** 2


def raw_means(delta, sigma, alpha, power):
    za, zb = Z.inv_cdf(1 - alpha / 2), Z.inv_cdf(power)
    return 2 * (za + zb) ** 2 * sigma ** 2 / delta ** 2


rates = st.integers(1, 99).map(lambda k: k / 100)
alphas = st.sampled_from([0.01, 0.05, 0.1])
powers = st.sampled_from([0.8, 0.9, 0.95])


@points(3)
@settings(max_examples=150, deadline=None)
@given(pa=rates, pb=rates, alpha=alphas, power=powers)
def test_proportions(student, pa, pb, alpha, power):
    """n_per_arm_proportions follows the pooled/unpooled formula and rounds up"""
    if pa == pb:
        return
    call = f"n_per_arm_proportions({pa}, {pb}, alpha={alpha}, power={power})"
    got = as_int(student.n_per_arm_proportions(pa, pb, alpha=alpha, power=power), call)
    raw = raw_props(pa, pb, alpha, power)
    if got not in accepted(raw):
        fail_with(f"{call} returned {got}, expected {math.ceil(raw)} (the formula gives {raw:.4f} per arm, "
                  f"rounded up)")


@points(3)
@settings(max_examples=150, deadline=None)
@given(delta=st.floats(0.1, 50), sigma=st.floats(0.1, 100), alpha=alphas, power=powers)
def test_means(student, delta, sigma, alpha, power):
    """n_per_arm_means is ceil(2 (z_a + z_b)^2 sigma^2 / delta^2) per arm"""
    call = f"n_per_arm_means({delta!r}, {sigma!r}, alpha={alpha}, power={power})"
    got = as_int(student.n_per_arm_means(delta, sigma, alpha=alpha, power=power), call)
    raw = raw_means(delta, sigma, alpha, power)
    if got not in accepted(raw):
        fail_with(f"{call} returned {got}, expected {math.ceil(raw)} (2 (z_a + z_b)^2 sigma^2 / delta^2 = "
                  f"{raw:.4f}, rounded up)")
