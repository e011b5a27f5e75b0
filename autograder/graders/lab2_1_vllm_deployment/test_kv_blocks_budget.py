"""Hidden grader: how many KV-cache blocks fit in a memory budget (Lab 2.1, notebook 04).

Expectations are computed here with exact rational arithmetic. The generated utilizations are
multiples of 1/256 and the totals multiples of 256 bytes below 2**41, so every float expression a
correct implementation may use is exact too.
"""
from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_float, as_int, fail_with, points

EXERCISES = ["kv_blocks_budget"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30
# one counterexample per test, no "explain" phase: failing submissions get their feedback quickly
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


def bytes_per_block(block_size, num_layers, num_kv_heads, head_dim, dtype_bytes):
    return 2 * num_layers * num_kv_heads * head_dim * block_size * dtype_bytes


def expected_blocks(total, util, weights, act, block_size, layers, heads, head_dim, dtype_bytes):
    budget = Fraction(total) * Fraction(util) - weights - act
    return max(0, math.floor(budget / bytes_per_block(block_size, layers, heads, head_dim, dtype_bytes)))


def call_text(args: dict) -> str:
    return "num_kv_blocks(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


def blocks(student, **args) -> int:
    return as_int(student.num_kv_blocks(**args), call_text(args))


shapes = st.fixed_dictionaries({
    "block_size": st.sampled_from([1, 8, 16, 32, 128, 256]),
    "num_layers": st.integers(1, 96),
    "num_kv_heads": st.sampled_from([1, 2, 4, 8, 16, 32, 64]),
    "head_dim": st.sampled_from([32, 64, 80, 96, 128, 256]),
    "dtype_bytes": st.sampled_from([1, 2, 4]),
})
totals = st.integers(1, 2**33).map(lambda k: 256 * k)
utils = st.integers(1, 256).map(lambda i: i / 256)


def describe_expectation(args) -> str:
    bpb = bytes_per_block(args["block_size"], args["num_layers"], args["num_kv_heads"], args["head_dim"],
                          args.get("dtype_bytes", 2))
    budget = args["total_memory_bytes"] * args["gpu_memory_utilization"] - args["weights_bytes"] \
        - args["activation_peak_bytes"]
    return (f"budget = total * utilization - weights - activation peak = {budget:.0f} bytes, "
            f"bytes per block = 2 * layers * kv_heads * head_dim * block_size * dtype_bytes = {bpb}")


@points(2)
@settings(**QUICK)
@given(totals, utils, st.data(), shapes)
def test_matches_the_formula(student, total, util, data, shape):
    """floor((total * utilization - weights - activation peak) / bytes per block)"""
    usable = int(total * util)
    weights = data.draw(st.integers(0, usable), label="weights_bytes")
    act = data.draw(st.integers(0, max(0, usable - weights)), label="activation_peak_bytes")
    args = dict(total_memory_bytes=total, gpu_memory_utilization=util, weights_bytes=weights,
                activation_peak_bytes=act, **shape)
    want = expected_blocks(total, util, weights, act, shape["block_size"], shape["num_layers"],
                           shape["num_kv_heads"], shape["head_dim"], shape["dtype_bytes"])
    got = blocks(student, **args)
    if got != want:
        fail_with(f"{call_text(args)} returned {got}, expected {want} ({describe_expectation(args)})")


@points(1)
def test_exact_multiples_and_one_byte_short(student):
    """a budget of exactly k blocks gives k; one byte less gives k - 1"""
    # vLLM's CPU run of the tiny model: 1 GiB of KV space, 4 layers, 2 KV heads, head_dim 64, fp32, block 128
    base = dict(gpu_memory_utilization=1.0, weights_bytes=0, activation_peak_bytes=0, block_size=128,
                num_layers=4, num_kv_heads=2, head_dim=64, dtype_bytes=4)
    cases = [(dict(base, total_memory_bytes=2**30), 2048),
             (dict(base, total_memory_bytes=2**30 - 1), 2047),
             (dict(base, total_memory_bytes=2**30 + 524288 - 1), 2048),
             (dict(base, total_memory_bytes=2**31, gpu_memory_utilization=0.5, weights_bytes=524288), 2047),
             (dict(base, total_memory_bytes=80 * 2**30, gpu_memory_utilization=0.75, weights_bytes=16 * 2**30,
                   activation_peak_bytes=2**30, block_size=16, num_layers=32, num_kv_heads=8, head_dim=128,
                   dtype_bytes=2), 22016)]
    for args, want in cases:
        got = blocks(student, **args)
        if got != want:
            fail_with(f"{call_text(args)} returned {got}, expected {want} ({describe_expectation(args)})")


@points(1)
@settings(**QUICK)
@given(totals, utils, st.integers(1, 2**34), shapes)
def test_negative_or_tiny_budget_gives_zero(student, total, util, extra, shape):
    """a budget below one block (or negative) gives 0 blocks, never a negative count"""
    usable = int(total * util)
    bpb = bytes_per_block(**shape)
    for weights, act in [(usable + extra, 0), (usable, extra), (max(0, usable - bpb + 1 + extra % bpb), 0)]:
        if weights + act <= usable - bpb:
            continue
        args = dict(total_memory_bytes=total, gpu_memory_utilization=util, weights_bytes=weights,
                    activation_peak_bytes=act, **shape)
        got = blocks(student, **args)
        if got != 0:
            fail_with(f"{call_text(args)} returned {got}, expected 0: the budget is below one block "
                      f"({describe_expectation(args)})")


@points(1)
def test_invalid_inputs_raise_value_error(student):
    """utilization outside (0, 1], negative sizes and zero dimensions raise ValueError"""
    good = dict(total_memory_bytes=2**34, gpu_memory_utilization=0.9, weights_bytes=2**30,
                activation_peak_bytes=2**28, block_size=16, num_layers=32, num_kv_heads=8, head_dim=128,
                dtype_bytes=2)
    bad = [("gpu_memory_utilization", 0), ("gpu_memory_utilization", -0.1), ("gpu_memory_utilization", 1.01),
           ("gpu_memory_utilization", 90), ("total_memory_bytes", 0), ("total_memory_bytes", -2**30),
           ("weights_bytes", -1), ("activation_peak_bytes", -1), ("block_size", 0), ("num_layers", 0),
           ("num_kv_heads", 0), ("head_dim", 0), ("dtype_bytes", 0)]
    for key, value in bad:
        args = dict(good, **{key: value})
        try:
            got = student.num_kv_blocks(**args)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"{call_text(args)} raised {type(exc).__name__}, expected ValueError ({key}={value!r})")
        fail_with(f"{call_text(args)} returned {got!r}, expected ValueError ({key}={value!r} is invalid)")
    args = dict(good, gpu_memory_utilization=1.0)
    blocks(student, **args)      # 1.0 is allowed


@points(1)
def test_dtype_bytes_defaults_to_2(student):
    """dtype_bytes defaults to 2 (fp16 / bf16)"""
    args = dict(total_memory_bytes=40 * 2**30, gpu_memory_utilization=0.9, weights_bytes=15 * 2**30,
                activation_peak_bytes=2**30, block_size=16, num_layers=32, num_kv_heads=8, head_dim=128)
    want = expected_blocks(40 * 2**30, 0.9, 15 * 2**30, 2**30, 16, 32, 8, 128, 2)
    got = blocks(student, **args)
    if got != want:
        fail_with(f"{call_text(args)} (no dtype_bytes) returned {got}, expected {want} with dtype_bytes=2")


@points(2)
@settings(**QUICK)
@given(st.integers(0, 10**6), st.sampled_from([1, 8, 16, 32, 128]), st.integers(1, 131072))
def test_max_concurrency(student, num_blocks, block_size, max_model_len):
    """max_concurrency = num_blocks / ceil(max_model_len / block_size)"""
    call = f"max_concurrency(num_blocks={num_blocks}, block_size={block_size}, max_model_len={max_model_len})"
    got = as_float(student.max_concurrency(num_blocks, block_size, max_model_len), call)
    per_seq = -(-max_model_len // block_size)
    want = num_blocks / per_seq
    if not math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12):
        fail_with(f"{call} returned {got!r}, expected {want!r}: a sequence of {max_model_len} tokens needs "
                  f"ceil({max_model_len} / {block_size}) = {per_seq} whole blocks")
    for bad in [dict(num_blocks=10, block_size=16, max_model_len=0), dict(num_blocks=-1, block_size=16,
                                                                          max_model_len=64),
                dict(num_blocks=10, block_size=0, max_model_len=64)]:
        try:
            student.max_concurrency(**bad)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"max_concurrency(**{bad}) raised {type(exc).__name__}, expected ValueError")
        fail_with(f"max_concurrency(**{bad}) did not raise ValueError")
