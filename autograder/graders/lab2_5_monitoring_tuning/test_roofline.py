"""Hidden grader: the roofline model (Lab 2.5, notebook 02).

    ridge_point      = peak / bandwidth                    (FLOP per byte)
    attainable_flops = min(peak, intensity * bandwidth)
    bound_by         = "memory" if intensity * bandwidth < peak else "compute"
    roofline_time    = max(flops / peak, bytes / bandwidth)
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, close, fail_with, points

EXERCISES = ["roofline"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30

# dense BF16/FP16 tensor FLOP/s and memory bandwidth (bytes/s) from the vendors' data sheets
GPUS = {"A100 80GB SXM": (312e12, 2.039e12), "H100 SXM": (989e12, 3.35e12), "L4": (121e12, 300e9),
        "RTX 4090": (165.2e12, 1.008e12)}

pos = st.floats(1e6, 1e16, allow_nan=False)


def f(student, name, *args):
    call = f"{name}({', '.join(repr(a) for a in args)})"
    return call, as_float(getattr(student, name)(*args), call)


@points(1)
def test_ridge_points_of_gpus(student):
    """ridge_point is peak FLOP/s divided by bandwidth (FLOP per byte)"""
    for gpu, (peak, bw) in GPUS.items():
        call, r = f(student, "ridge_point", peak, bw)
        if not close(r, peak / bw, rel=1e-9):
            fail_with(f"{call} ({gpu}) returned {r}; expected {peak / bw:.4g} FLOP/byte")


@points(2)
@settings(max_examples=200, deadline=None)
@given(intensity=st.floats(0, 1e5, allow_nan=False), peak=pos, bw=pos)
def test_attainable_is_the_roof(student, intensity, peak, bw):
    """attainable_flops = min(peak, intensity x bandwidth): the slanted roof, then the flat one"""
    call, a = f(student, "attainable_flops", intensity, peak, bw)
    want = min(peak, intensity * bw)
    if not close(a, want, rel=1e-9, abs_=1e-300):
        fail_with(f"{call} returned {a}; expected min(peak, intensity x bandwidth) = {want}")


@points(2)
def test_bound_by_sides_of_the_ridge(student):
    """bound_by says 'memory' left of the ridge point and 'compute' at or right of it"""
    cases = [(1.0, 312e12, 2.039e12, "memory"), (1000.0, 312e12, 2.039e12, "compute"),
             (100.0, 1000.0, 10.0, "compute"), (99.0, 1000.0, 10.0, "memory"), (295.0, 989e12, 3.35e12, "memory"),
             (296.0, 989e12, 3.35e12, "compute"), (0.0, 1.0, 1.0, "memory")]
    for intensity, peak, bw, want in cases:
        got = student.bound_by(intensity, peak, bw)
        if not isinstance(got, str) or got != want:
            fail_with(f"bound_by({intensity}, {peak}, {bw}) returned {got!r}; expected {want!r} (ridge point "
                      f"{peak / bw:.4g} FLOP/byte)")


@points(2)
@settings(max_examples=200, deadline=None)
@given(flops=st.integers(0, 10 ** 15), nbytes=st.integers(0, 10 ** 12), peak=pos, bw=pos)
def test_roofline_time_is_the_slower_side(student, flops, nbytes, peak, bw):
    """roofline_time = max(flops / peak, bytes / bandwidth), in seconds"""
    call, t = f(student, "roofline_time", flops, nbytes, peak, bw)
    want = max(flops / peak, nbytes / bw)
    if not close(t, want, rel=1e-9, abs_=1e-300):
        fail_with(f"{call} returned {t}; expected max(flops/peak, bytes/bandwidth) = {want} s")
