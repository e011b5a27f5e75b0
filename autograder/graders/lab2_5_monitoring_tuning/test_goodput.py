"""Hidden grader: goodput under a TTFT and a TPOT SLO (Lab 2.5, notebook 03).

A finished request is good when ttft <= ttft_slo and (n < 2 or tpot <= tpot_slo), with
ttft = first_token_time - arrival and tpot = (finish_time - first_token_time) / (n - 1);
goodput = good / duration_s. Recomputed here.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["goodput"]
TIMEOUT_S = 90


def want(reqs, duration, ttft_slo, tpot_slo):
    good = 0
    for r in reqs:
        if r["first_token_time"] is None or r["finish_time"] is None:
            continue
        if r["first_token_time"] - r["arrival"] > ttft_slo:
            continue
        n = r["num_output_tokens"]
        if n >= 2 and (r["finish_time"] - r["first_token_time"]) / (n - 1) > tpot_slo:
            continue
        good += 1
    return good / duration


def call_of(reqs, duration, a, b):
    text = repr(reqs)
    if len(text) > 400:
        text = text[:397] + "...]"
    return f"goodput({text}, {duration!r}, ttft_slo_s={a!r}, tpot_slo_s={b!r})"


def check(student, reqs, duration, a, b):
    call = call_of(reqs, duration, a, b)
    got = as_float(student.goodput([dict(r) for r in reqs], duration, a, b), call)
    w = want(reqs, duration, a, b)
    if not math.isclose(got, w, rel_tol=1e-9, abs_tol=1e-12):
        fail_with(f"{call} returned {got:g}, expected {w:g} ({round(w * duration)} good requests / duration_s)")


finished = st.builds(
    lambda arr, ttft, n, gap: {"arrival": arr, "first_token_time": arr + ttft,
                               "finish_time": arr + ttft + gap * max(n - 1, 0), "num_output_tokens": n},
    st.integers(0, 100).map(float), st.sampled_from([0.05, 0.1, 0.2, 0.3, 0.5]), st.integers(1, 20),
    st.sampled_from([0.01, 0.02, 0.04, 0.08]))


@points(3)
@settings(max_examples=200, deadline=None)
@given(reqs=st.lists(finished, max_size=12), duration=st.sampled_from([0.5, 1.0, 4.0, 10.0]),
       ttft_slo=st.sampled_from([0.08, 0.15, 0.25]), tpot_slo=st.sampled_from([0.015, 0.03, 0.05]))
def test_counts_requests_meeting_both_slos(student, reqs, duration, ttft_slo, tpot_slo):
    """a request counts when its TTFT and its TPOT both meet their SLOs; divided by duration_s"""
    check(student, reqs, duration, ttft_slo, tpot_slo)


@points(1)
def test_tpot_divides_by_n_minus_one(student):
    """TPOT is the decode time divided by the number of gaps, n - 1"""
    reqs = [{"arrival": 0.0, "first_token_time": 0.05, "finish_time": 0.07, "num_output_tokens": 2},
            {"arrival": 0.0, "first_token_time": 0.05, "finish_time": 0.09, "num_output_tokens": 3},
            {"arrival": 0.0, "first_token_time": 0.05, "finish_time": 0.08, "num_output_tokens": 4}]
    check(student, reqs, 1.0, 0.1, 0.015)


@points(2)
def test_single_token_request_has_no_tpot(student):
    """a 1-token request only needs the TTFT SLO"""
    reqs = [{"arrival": 0.0, "first_token_time": 0.1, "finish_time": 0.1, "num_output_tokens": 1},
            {"arrival": 0.0, "first_token_time": 0.1, "finish_time": 5.1, "num_output_tokens": 1}]
    check(student, reqs, 2.0, 0.2, 0.01)


@points(2)
def test_unfinished_requests_are_not_good(student):
    """requests without a first token or a finish time never count"""
    reqs = [{"arrival": 0.0, "first_token_time": None, "finish_time": None, "num_output_tokens": 0},
            {"arrival": 0.0, "first_token_time": 0.05, "finish_time": None, "num_output_tokens": 3},
            {"arrival": 0.0, "first_token_time": 0.05, "finish_time": 0.09, "num_output_tokens": 3}]
    check(student, reqs, 1.0, 0.2, 0.05)


@points(1)
def test_slo_boundaries_are_inclusive(student):
    """a TTFT or TPOT exactly equal to its SLO meets it"""
    reqs = [{"arrival": 0.0, "first_token_time": 0.25, "finish_time": 0.25 + 0.5, "num_output_tokens": 3}]
    check(student, reqs, 1.0, 0.25, 0.25)


@points(1)
def test_rejects_a_non_positive_duration(student):
    """duration_s <= 0 raises ValueError"""
    for d in (0.0, -1.0):
        try:
            student.goodput([], d, 0.1, 0.1)
        except ValueError:
            continue
        fail_with(f"goodput([], {d}, 0.1, 0.1) did not raise ValueError")
