"""Hidden grader: cost per million tokens and the cheapest option (Lab 2.4, notebook 01)."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, as_int, fail_with, points

EXERCISES = ["cost_model"]
TIMEOUT_S = 60


def cpm(tps, gpus, price, util=1.0):
    return price * gpus / (tps * util * 3600) * 1e6


@points(2)
@settings(max_examples=80, deadline=None, derandomize=True)
@given(tps=st.floats(1, 1e5), gpus=st.integers(1, 16), price=st.floats(0, 20), util=st.floats(0.05, 1.0))
def test_cost_per_million(student, tps, gpus, price, util):
    """cost_per_million_tokens = price x gpus / (tokens/s x utilization x 3600) x 1e6"""
    got = as_float(student.cost_per_million_tokens(tps, gpus, price, util), "cost_per_million_tokens(...)")
    want = cpm(tps, gpus, price, util)
    if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
        fail_with(f"cost_per_million_tokens({tps!r}, {gpus}, {price!r}, {util!r}) is {got!r}; expected {want!r}")


@points(1)
def test_cost_examples_and_errors(student):
    """worked examples (default utilization 1.0) and ValueError for impossible inputs"""
    for args, want in (((1000, 1, 3.6), 1.0), ((2500, 8, 2.0), 2.0 * 8 / (2500 * 3600) * 1e6),
                       ((500, 2, 1.8, 0.5), 4.0)):
        got = as_float(student.cost_per_million_tokens(*args), f"cost_per_million_tokens{args}")
        if not math.isclose(got, want, rel_tol=1e-9):
            fail_with(f"cost_per_million_tokens{args} is {got}; expected {want}")
    for args in ((0, 1, 1.0), (-5, 1, 1.0), (100, 0, 1.0), (100, 1, -1.0), (100, 1, 1.0, 0), (100, 1, 1.0, 1.5)):
        try:
            student.cost_per_million_tokens(*args)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"cost_per_million_tokens{args} raised {type(exc).__name__}; expected ValueError")
        fail_with(f"cost_per_million_tokens{args} returned a number; expected ValueError")


OPTIONS = [
    {"name": "1xA10G", "tokens_per_s": 900.0, "gpus": 1, "usd_per_gpu_hour": 1.0},
    {"name": "1xL40S", "tokens_per_s": 2100.0, "gpus": 1, "usd_per_gpu_hour": 1.9},
    {"name": "1xH100", "tokens_per_s": 5200.0, "gpus": 1, "usd_per_gpu_hour": 4.0},
    {"name": "2xA100", "tokens_per_s": 6000.0, "gpus": 2, "usd_per_gpu_hour": 2.2},
]


def best(options, demand, util=1.0):
    out = None
    for o in options:
        rep = max(1, math.ceil(demand / (o["tokens_per_s"] * util)))
        usd = rep * o["gpus"] * o["usd_per_gpu_hour"]
        if out is None or usd < out[2]:
            out = (o["name"], rep, usd)
    return out


def check_best(student, options, demand, util=None):
    text = f"cheapest_option(<{len(options)} options>, {demand!r}{'' if util is None else f', {util!r}'})"
    got = student.cheapest_option(options, demand) if util is None else student.cheapest_option(options, demand, util)
    want = best(options, demand, 1.0 if util is None else util)
    if not isinstance(got, dict):
        fail_with(f"{text} returned {type(got).__name__}; expected a dict")
    g = (got.get("name"), as_int(got.get("replicas"), f"{text}['replicas']"), as_float(got.get("usd_per_hour"),
                                                                                          f"{text}['usd_per_hour']"))
    if g[0] != want[0] or g[1] != want[1] or not math.isclose(g[2], want[2], rel_tol=1e-9):
        fail_with(f"{text} with options {[(o['name'], o['tokens_per_s'], o['gpus'], o['usd_per_gpu_hour']) for o in options]}"
                  f" returned {got}; expected name={want[0]!r}, replicas={want[1]}, usd_per_hour={want[2]:g}")


@points(2)
def test_cheapest_option_examples(student):
    """replicas = ceil(demand / (tokens/s x utilization)), at least 1; lowest $/h wins, first on ties"""
    for demand in (100.0, 900.0, 901.0, 4000.0, 5200.0, 12000.0, 50000.0):
        check_best(student, OPTIONS, demand)
    check_best(student, OPTIONS, 5000.0, 0.6)
    tie = [{"name": "a", "tokens_per_s": 1000.0, "gpus": 1, "usd_per_gpu_hour": 2.0},
           {"name": "b", "tokens_per_s": 2000.0, "gpus": 2, "usd_per_gpu_hour": 1.0}]
    check_best(student, tie, 1500.0)
    for args in (([], 100.0), (OPTIONS, 0.0), (OPTIONS, -3.0)):
        try:
            student.cheapest_option(*args)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"cheapest_option({'[]' if not args[0] else '<options>'}, {args[1]}) raised "
                      f"{type(exc).__name__}; expected ValueError")
        fail_with(f"cheapest_option({'[]' if not args[0] else '<options>'}, {args[1]}) returned; expected ValueError")


opt = st.builds(lambda n, t, g, p: {"name": n, "tokens_per_s": float(t), "gpus": g, "usd_per_gpu_hour": p},
                st.text("abcdefgh", min_size=1, max_size=4), st.integers(50, 10000), st.integers(1, 8),
                st.sampled_from([0.5, 1.0, 1.25, 2.0, 2.5, 4.0]))


@points(1)
@settings(max_examples=80, deadline=None, derandomize=True)
@given(options=st.lists(opt, min_size=1, max_size=5), demand=st.integers(1, 100000),
       util=st.sampled_from([0.25, 0.5, 1.0]))
def test_cheapest_option_any(student, options, demand, util):
    """cheapest_option for random option lists, demands and utilizations"""
    check_best(student, options, float(demand), util)
