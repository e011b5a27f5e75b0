"""Hidden grader: paging_waste (Lab 2.1, notebook 01).

KV slots wasted by static pre-allocation (every sequence reserves max_model_len slots) versus
paged allocation (every sequence reserves ceil(len / block_size) blocks). Expected values are
computed here from the definitions.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, as_int, fail_with, points

EXERCISES = ["paging_waste"]

INT_KEYS = ("num_seqs", "used_slots", "static_reserved_slots", "static_wasted_slots", "paged_blocks",
            "paged_reserved_slots", "paged_wasted_slots")
FLOAT_KEYS = ("static_waste_fraction", "paged_waste_fraction", "memory_saving")


def expected(lens, max_model_len, block_size) -> dict:
    used = sum(lens)
    static = len(lens) * max_model_len
    blocks = sum(-(-n // block_size) for n in lens)
    paged = blocks * block_size
    return {
        "num_seqs": len(lens), "used_slots": used,
        "static_reserved_slots": static, "static_wasted_slots": static - used,
        "static_waste_fraction": (static - used) / static if static else 0.0,
        "paged_blocks": blocks, "paged_reserved_slots": paged, "paged_wasted_slots": paged - used,
        "paged_waste_fraction": (paged - used) / paged if paged else 0.0,
        "memory_saving": (static - paged) / static if static else 0.0,
    }


def call(student, lens, max_model_len, block_size) -> tuple[dict, str]:
    shown = [int(n) for n in lens]
    if not isinstance(lens, list):
        shown = f"{type(lens).__module__.split('.')[0]}.{type(lens).__name__} of {shown}"
    text = f"paging_waste({shown}, max_model_len={max_model_len}, block_size={block_size})"
    if len(text) > 300:
        text = f"paging_waste(<{len(lens)} lengths>, max_model_len={max_model_len}, block_size={block_size})"
    try:
        res = student.paging_waste(lens, max_model_len, block_size)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"{text} raised {type(exc).__name__}: {exc}")
    if not isinstance(res, dict):
        fail_with(f"{text} should return a dict, got {type(res).__name__}")
    missing = [k for k in INT_KEYS + FLOAT_KEYS if k not in res]
    if missing:
        fail_with(f"{text}: the dict has no key(s) {missing}")
    return res, text


def check(student, lens, max_model_len, block_size, keys=INT_KEYS + FLOAT_KEYS) -> dict:
    res, text = call(student, lens, max_model_len, block_size)
    want = expected([int(n) for n in lens], max_model_len, block_size)
    for key in keys:
        if key in INT_KEYS:
            got = as_int(res[key], f"{text}[{key!r}]")
            if got != want[key]:
                fail_with(f"{text}[{key!r}] is {got}, expected {want[key]}")
        else:
            got = as_float(res[key], f"{text}[{key!r}]")
            if not math.isclose(got, want[key], rel_tol=1e-9, abs_tol=1e-12):
                fail_with(f"{text}[{key!r}] is {got!r}, expected {want[key]!r}")
    return res


@points(1)
def test_worked_examples(student):
    """the worked examples: [1024, 512] with max_model_len 2048 and block_size 64, and [100, 30] with block_size 16"""
    check(student, [1024, 512], 2048, 64)
    check(student, [100, 30], 128, 16)
    check(student, [1, 16, 17, 32], 64, 16)


@points(2)
@settings(max_examples=200)
@given(data=st.data(), max_model_len=st.integers(1, 512), block_size=st.integers(1, 64))
def test_matches_the_definitions(student, data, max_model_len, block_size):
    """every field follows its definition (static reserves max_model_len per sequence, paged whole blocks)"""
    lens = data.draw(st.lists(st.integers(0, max_model_len), min_size=1, max_size=12), label="seq_lens")
    check(student, lens, max_model_len, block_size)


@points(1)
@settings(max_examples=150)
@given(n=st.integers(0, 300), block_size=st.integers(1, 32))
def test_paged_waste_below_one_block(student, n, block_size):
    """a sequence wastes less than one block when paged: ceil(len / block_size) * block_size - len"""
    res = check(student, [n], 512, block_size, keys=("paged_blocks", "paged_wasted_slots"))
    waste = int(res["paged_wasted_slots"])
    if not 0 <= waste < block_size:
        fail_with(f"paging_waste([{n}], 512, {block_size}): paged_wasted_slots is {waste}; "
                  f"one sequence wastes at least 0 and less than one block ({block_size} slots)")
    for k in (1, 3):  # exact multiples of the block size waste nothing
        check(student, [k * block_size], 512, block_size, keys=("paged_wasted_slots",))


@points(1)
def test_empty_input_and_array_types(student):
    """no sequences gives zeros (no ZeroDivisionError); tuples and numpy arrays are accepted"""
    check(student, [], 128, 16)
    check(student, (5, 70, 128), 128, 16)
    import numpy as np
    check(student, np.array([3, 64, 65, 100], dtype=np.int64), 128, 16)


@points(1)
def test_rejects_impossible_inputs(student):
    """ValueError for a length above max_model_len, a negative length, or block_size < 1"""
    for args, why in (
        (([10, 300], 256, 16), "a sequence of 300 tokens cannot fit max_model_len 256"),
        (([10, -1], 256, 16), "a length cannot be negative"),
        (([10, 20], 256, 0), "block_size must be at least 1"),
    ):
        text = f"paging_waste({args[0]}, {args[1]}, {args[2]})"
        try:
            res = student.paging_waste(*args)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"{text} should raise ValueError ({why}), but raised {type(exc).__name__}: {exc}")
        fail_with(f"{text} should raise ValueError ({why}), but returned {str(res)[:120]}")
