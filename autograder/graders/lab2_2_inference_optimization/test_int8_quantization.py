"""Hidden grader: INT8 absmax (symmetric) and zero-point (asymmetric) quantization (Lab 2.2, notebook 03).

Expectations are computed here from the rules stated in the exercise, in float64:
    absmax:     scale = max|x| / 127, q = clamp(round(x / scale), -127, 127), deq = q * scale
    zero-point: lo = min(min x, 0), hi = max(max x, 0), scale = (hi - lo) / 255,
                zero_point = -128 - round(lo / scale), q = clamp(round(x / scale) + zero_point, -128, 127),
                deq = (q - zero_point) * scale
    all-zero slice: scale 1.0; per channel (dim=d): one scale per index along d, keepdim shape.
Rounding is half to even. Where x / scale lies within 1e-3 of a tie, either neighbour is accepted in the
random tests (float32 vs float64 arithmetic may legitimately land on either side); the exact cases use
values that are exactly representable.
"""
from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points

EXERCISES = ["int8_quantization"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40


# ---- helpers -------------------------------------------------------------------------------------

def short(t) -> str:
    if isinstance(t, torch.Tensor):
        t = t.detach().double().tolist()
    text = repr(t)
    return text if len(text) < 240 else text[:237] + "..."


def tensor_out(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        fail_with(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    return value.detach()


def unpack(result, n: int, call: str) -> list:
    if not isinstance(result, (tuple, list)) or len(result) != n:
        fail_with(f"{call} should return a tuple of {n} tensors, got {type(result).__name__}"
                  + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return list(result)


def reduce_dims(x: torch.Tensor, dim):
    if dim is None:
        return None
    d = dim % x.dim()
    return [i for i in range(x.dim()) if i != d]


def expected_scale_shape(x: torch.Tensor, dim) -> tuple:
    if dim is None:
        return ()
    d = dim % x.dim()
    return tuple(n if i == d else 1 for i, n in enumerate(x.shape))


def amax(x: torch.Tensor, dim):
    others = reduce_dims(x, dim)
    return x.amax() if others is None else x.amax(dim=others, keepdim=True)


def amin(x: torch.Tensor, dim):
    others = reduce_dims(x, dim)
    return x.amin() if others is None else x.amin(dim=others, keepdim=True)


def near_tie(r: torch.Tensor) -> torch.Tensor:
    return ((r - torch.floor(r)) - 0.5).abs() < 1e-3


def check_rounding(q: torch.Tensor, r: torch.Tensor, lo: int, hi: int, call: str, x: torch.Tensor) -> None:
    """q == clamp(round_half_even(r), lo, hi), either neighbour accepted near a tie."""
    want = torch.clamp(torch.round(r), lo, hi)
    alt = torch.clamp(torch.where(torch.round(r) == torch.floor(r), torch.ceil(r), torch.floor(r)), lo, hi)
    ok = (q.double() == want) | (near_tie(r) & (q.double() == alt))
    if not bool(ok.all()):
        i = int((~ok).reshape(-1).nonzero()[0])
        fail_with(f"{call}: element {i} (x = {float(x.reshape(-1)[i])!r}) was quantized to "
                  f"{int(q.reshape(-1)[i])}; x / scale (+ zero_point) = {float(r.reshape(-1)[i]):.6f}, so the rule "
                  f"clamp(round(...), {lo}, {hi}) with round half to even gives {int(want.reshape(-1)[i])}")


def check_q(q, x: torch.Tensor, call: str) -> torch.Tensor:
    q = tensor_out(q, f"q from {call}")
    if q.dtype != torch.int8:
        fail_with(f"{call} returned q of dtype {q.dtype}; expected torch.int8")
    if tuple(q.shape) != tuple(x.shape):
        fail_with(f"{call} returned q of shape {tuple(q.shape)}; expected {tuple(x.shape)} (the shape of x)")
    return q


def check_scale(scale, x: torch.Tensor, dim, want: torch.Tensor, call: str, rule: str) -> torch.Tensor:
    scale = tensor_out(scale, f"scale from {call}")
    shape = expected_scale_shape(x, dim)
    if tuple(scale.shape) != shape:
        fail_with(f"{call} returned a scale of shape {tuple(scale.shape)}; expected {shape} "
                  + ("(one scale for the whole tensor: a 0-d tensor)" if dim is None else
                     f"(one scale per index along dim {dim}, size 1 in the other dimensions)"))
    if scale.dtype != torch.float32:
        fail_with(f"{call} returned a scale of dtype {scale.dtype}; expected torch.float32")
    s = scale.double()
    bad = ~torch.isclose(s, want, rtol=1e-5, atol=0.0)
    if bool(bad.any()):
        i = int(bad.reshape(-1).nonzero()[0])
        fail_with(f"{call}: scale[{i}] is {float(s.reshape(-1)[i])!r}; expected {float(want.reshape(-1)[i])!r} "
                  f"({rule})")
    return s


def check_dequant(deq, x: torch.Tensor, want: torch.Tensor, call: str) -> torch.Tensor:
    deq = tensor_out(deq, call)
    if deq.dtype != torch.float32:
        fail_with(f"{call} returned dtype {deq.dtype}; expected torch.float32")
    if tuple(deq.shape) != tuple(x.shape):
        fail_with(f"{call} returned shape {tuple(deq.shape)}; expected {tuple(x.shape)}")
    bad = ~torch.isclose(deq.double(), want, rtol=1e-5, atol=1e-6)
    if bool(bad.any()):
        i = int(bad.reshape(-1).nonzero()[0])
        fail_with(f"{call}: element {i} is {float(deq.reshape(-1)[i])!r}; expected {float(want.reshape(-1)[i])!r}")
    return deq.double()


def run_absmax(student, x: torch.Tensor, dim, label: str):
    """Quantize, check everything against the rules, return (q, scale, deq) as float64 tensors."""
    call = f"absmax_quantize({label}" + ("" if dim is None else f", dim={dim}") + ")"
    x0 = x.clone()
    q, scale = unpack(student.absmax_quantize(x, dim) if dim is not None else student.absmax_quantize(x), 2, call)
    if not torch.equal(x, x0):
        fail_with(f"{call} modified its input x; quantization must not change the tensor it reads")
    q = check_q(q, x, call)
    xd = x.double()
    m = amax(xd.abs(), dim)
    want_scale = torch.where(m == 0, torch.ones_like(m), m.float().double() / 127)
    s = check_scale(scale, x, dim, want_scale, call, "max|x| / 127 of that slice, 1.0 for an all-zero slice")
    check_rounding(q, xd / s, -127, 127, call, x)
    deq = check_dequant(student.absmax_dequantize(q.clone(), scale.clone()), x, q.double() * s,
                        f"absmax_dequantize(*{call})")
    return q, s, deq


def run_zeropoint(student, x: torch.Tensor, dim, label: str):
    call = f"zeropoint_quantize({label}" + ("" if dim is None else f", dim={dim}") + ")"
    x0 = x.clone()
    res = student.zeropoint_quantize(x, dim) if dim is not None else student.zeropoint_quantize(x)
    q, scale, zp = unpack(res, 3, call)
    if not torch.equal(x, x0):
        fail_with(f"{call} modified its input x; quantization must not change the tensor it reads")
    q = check_q(q, x, call)
    xd = x.double()
    lo = torch.clamp(amin(xd, dim), max=0.0)
    hi = torch.clamp(amax(xd, dim), min=0.0)
    want_scale = torch.where(hi == lo, torch.ones_like(hi), (hi - lo) / 255)
    s = check_scale(scale, x, dim, want_scale, call,
                    "(hi - lo) / 255 with lo = min(min x, 0) and hi = max(max x, 0), 1.0 for an all-zero slice")
    zp = tensor_out(zp, f"zero_point from {call}")
    if zp.dtype != torch.int32:
        fail_with(f"{call} returned a zero_point of dtype {zp.dtype}; expected torch.int32")
    if tuple(zp.shape) != tuple(scale.shape):
        fail_with(f"{call} returned a zero_point of shape {tuple(zp.shape)}; expected {tuple(scale.shape)} "
                  "(the shape of scale)")
    r_zp = -128 - lo / s
    want_zp = torch.round(r_zp)
    ok = (zp.double() == want_zp) | (near_tie(r_zp) & ((zp.double() - r_zp).abs() < 1))
    if not bool(ok.all()):
        i = int((~ok).reshape(-1).nonzero()[0])
        fail_with(f"{call}: zero_point[{i}] is {int(zp.reshape(-1)[i])}; expected {int(want_zp.reshape(-1)[i])} "
                  f"(-128 - round(lo / scale) with lo = {float(lo.reshape(-1)[i])!r}: the integer that real 0 maps to)")
    if bool(((zp < -128) | (zp > 127)).any()):
        fail_with(f"{call}: zero_point {short(zp)} leaves the int8 range [-128, 127]")
    check_rounding(q, xd / s + zp.double(), -128, 127, call, x)
    deq = check_dequant(student.zeropoint_dequantize(q.clone(), scale.clone(), zp.clone()), x,
                        (q.double() - zp.double()) * s, f"zeropoint_dequantize(*{call})")
    return q, s, zp.double(), deq


def check_error_bound(x: torch.Tensor, deq: torch.Tensor, s: torch.Tensor, call: str) -> None:
    err = (deq - x.double()).abs()
    bound = s / 2 * (1 + 1e-4) + 1e-6 * x.double().abs()
    bad = err > bound
    if bool(bad.any()):
        i = int(bad.reshape(-1).nonzero()[0])
        fail_with(f"{call}: element {i} = {float(x.reshape(-1)[i])!r} came back as {float(deq.reshape(-1)[i])!r}, "
                  f"an error of {float(err.reshape(-1)[i]):.6g} > scale / 2 = "
                  f"{float((s / 2).expand_as(err).reshape(-1)[i]):.6g}; rounding to the nearest level can never be "
                  f"further off than half a step")


# ---- strategies ----------------------------------------------------------------------------------

values = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False, width=32).map(
    lambda v: 0.0 if abs(v) < 1e-3 else v)
flat = st.lists(values, min_size=1, max_size=40)


@st.composite
def channel_tensors(draw):
    """A 2-D or 3-D float32 tensor whose slices along a random dim have very different ranges."""
    ndim = draw(st.integers(2, 3))
    shape = draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim))
    dim = draw(st.integers(-ndim, ndim - 1))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=gen)
    ranges = torch.tensor(draw(st.lists(st.sampled_from([0.0, 0.01, 0.5, 1.0, 3.0, 40.0]),
                                        min_size=shape[dim], max_size=shape[dim])))
    view = [1] * ndim
    view[dim] = shape[dim]
    shift = draw(st.sampled_from([0.0, 0.0, 2.0, -5.0]))
    x = (x + shift) * ranges.reshape(view)
    return x.float(), dim


# ---- tests ---------------------------------------------------------------------------------------

@points(2)
def test_absmax_exact_cases(student):
    """absmax: scale = max|x| / 127, q = clamp(round(x / scale), -127, 127), ties to even (exact cases)"""
    cases = [
        ([127.0, 0.5, 1.5, 2.5, -0.5, -63.5, -127.0, 3.0], 1.0, [127, 0, 2, 2, 0, -64, -127, 3]),
        ([254.0, 3.0, -1.0, 5.0, -254.0], 2.0, [127, 2, 0, 2, -127]),
        ([-12.7, 1.0, 0.0], 0.1, [-127, 10, 0]),
    ]
    for xs, want_scale, want_q in cases:
        x = torch.tensor(xs)
        call = f"absmax_quantize(torch.tensor({xs}))"
        q, scale = unpack(student.absmax_quantize(x.clone()), 2, call)
        q = check_q(q, x, call)
        scale = tensor_out(scale, f"scale from {call}")
        if scale.numel() != 1 or not math.isclose(float(scale.reshape(-1)[0]), want_scale, rel_tol=1e-6):
            fail_with(f"{call} returned scale {short(scale)}; expected {want_scale} (max|x| / 127)")
        got = [int(v) for v in q.tolist()]
        if got != want_q:
            fail_with(f"{call} returned q = {got}; expected {want_q} (round half to even, e.g. 2.5 -> 2, "
                      "-63.5 -> -64, and no truncation)")
        deq = tensor_out(student.absmax_dequantize(q.clone(), scale.clone()), f"absmax_dequantize(*{call})")
        want = [v * want_scale for v in want_q]
        if not all(math.isclose(float(a), b, rel_tol=1e-6, abs_tol=1e-6) for a, b in zip(deq.tolist(), want)):
            fail_with(f"absmax_dequantize(*{call}) returned {short(deq)}; expected {want} (q * scale)")


@points(2)
@settings(max_examples=120)
@given(xs=flat)
def test_absmax_per_tensor_properties(student, xs):
    """absmax per tensor: int8 in [-127, 127], nearest level, |deq - x| <= scale / 2, 0 -> 0, idempotent"""
    x = torch.tensor(xs, dtype=torch.float32)
    label = f"torch.tensor({short(xs)})"
    q, s, deq = run_absmax(student, x, None, label)
    check_error_bound(x, deq, s, f"absmax_quantize({label}) then absmax_dequantize")
    zero = x == 0
    if bool((deq[zero] != 0).any()):
        fail_with(f"absmax on {label}: an exact 0 came back as a non-zero value; symmetric quantization maps 0 to 0")
    q2, scale2 = unpack(student.absmax_quantize(deq.float()), 2, "absmax_quantize(deq)")
    if not torch.equal(tensor_out(q2, "q").to(torch.int64), q.to(torch.int64)):
        fail_with(f"quantizing the dequantized tensor of {label} again changed q from {short(q)} to {short(q2)}; "
                  "dequantized values sit exactly on the grid, so quantization should be idempotent")


@points(2)
@settings(max_examples=120)
@given(case=channel_tensors())
def test_absmax_per_channel(student, case):
    """absmax per channel: one scale per index along dim (keepdim shape), error <= that channel's scale / 2"""
    x, dim = case
    label = f"<tensor of shape {tuple(x.shape)}: {short(x)}>"
    q, s, deq = run_absmax(student, x, dim, label)
    check_error_bound(x, deq, s, f"absmax_quantize({label}, dim={dim}) then absmax_dequantize")
    per_tensor = x.double().abs().max() / 127
    nonzero = amax(x.double().abs(), dim) > 0
    if bool((s[nonzero] > per_tensor * (1 + 1e-5)).any()):
        fail_with(f"absmax_quantize({label}, dim={dim}): a per-channel scale is larger than the per-tensor scale "
                  f"{float(per_tensor):.6g}; a channel's range never exceeds the whole tensor's")


@points(2)
def test_zeropoint_exact_cases(student):
    """zero-point: range widened to contain 0, scale = (hi - lo) / 255, zero_point = -128 - round(lo / scale)"""
    cases = [  # x, scale, zero_point, q
        ([-51.0, 204.0, 0.5, 2.5, 100.0, 0.0], 1.0, -77, [-128, 127, -77, -75, 23, -77]),
        ([10.0, 255.0, 3.5], 1.0, -128, [-118, 127, -124]),          # all positive: lo widened to 0
        ([-255.0, -10.0, -0.5], 1.0, 127, [-128, 117, 127]),         # all negative: hi widened to 0
        ([-2.0, 0.0, 8.2], 0.04, -78, [-128, -78, 127]),
        ([-1.5, 253.5, 0.0], 1.0, -126, [-128, 127, -126]),         # 253.5 - 126 = 127.5 -> 128 -> clamped
    ]
    for xs, want_scale, want_zp, want_q in cases:
        x = torch.tensor(xs)
        call = f"zeropoint_quantize(torch.tensor({xs}))"
        q, scale, zp = unpack(student.zeropoint_quantize(x.clone()), 3, call)
        q = check_q(q, x, call)
        scale, zp = tensor_out(scale, f"scale from {call}"), tensor_out(zp, f"zero_point from {call}")
        if scale.numel() != 1 or not math.isclose(float(scale.reshape(-1)[0]), want_scale, rel_tol=1e-5):
            fail_with(f"{call} returned scale {short(scale)}; expected {want_scale} ((hi - lo) / 255 after widening "
                      "[min, max] to contain 0)")
        if zp.numel() != 1 or int(zp.reshape(-1)[0]) != want_zp:
            fail_with(f"{call} returned zero_point {short(zp)}; expected {want_zp} (-128 - round(lo / scale))")
        got = [int(v) for v in q.tolist()]
        if got != want_q:
            fail_with(f"{call} returned q = {got}; expected {want_q} (clamp(round(x / scale) + zero_point, -128, 127), "
                      "half to even)")
        deq = tensor_out(student.zeropoint_dequantize(q.clone(), scale.clone(), zp.clone()),
                         f"zeropoint_dequantize(*{call})")
        want = [(v - want_zp) * want_scale for v in want_q]
        if not all(math.isclose(float(a), b, rel_tol=1e-5, abs_tol=1e-5) for a, b in zip(deq.tolist(), want)):
            fail_with(f"zeropoint_dequantize(*{call}) returned {short(deq)}; expected {short(want)} "
                      "((q - zero_point) * scale)")


@points(2)
@settings(max_examples=120)
@given(xs=flat, case=channel_tensors())
def test_zeropoint_properties(student, xs, case):
    """zero-point per tensor and per channel: nearest level, |deq - x| <= scale / 2, exact 0 -> exact 0"""
    x = torch.tensor(xs, dtype=torch.float32)
    label = f"torch.tensor({short(xs)})"
    q, s, zp, deq = run_zeropoint(student, x, None, label)
    check_error_bound(x, deq, s, f"zeropoint_quantize({label}) then zeropoint_dequantize")
    if bool((deq[x == 0] != 0).any()):
        fail_with(f"zero-point on {label}: an exact 0 came back non-zero; the zero_point must represent 0 exactly")
    x, dim = case
    label = f"<tensor of shape {tuple(x.shape)}: {short(x)}>"
    q, s, zp, deq = run_zeropoint(student, x, dim, label)
    check_error_bound(x, deq, s, f"zeropoint_quantize({label}, dim={dim}) then zeropoint_dequantize")


@points(2)
def test_zero_slices_dtypes_and_inputs(student):
    """all-zero tensors and channels give exact zeros (no NaN), other dtypes in, int8 / float32 out"""
    z = torch.zeros(3, 4)
    q, s, deq = run_absmax(student, z, None, "torch.zeros(3, 4)")
    if bool((deq != 0).any()) or not bool(torch.isfinite(s).all()):
        fail_with("absmax on torch.zeros(3, 4) should give exact zeros back (scale 1.0, q = 0), "
                  f"got scale {short(s)}, dequantized {short(deq)}")
    q, s, zp, deq = run_zeropoint(student, z, None, "torch.zeros(3, 4)")
    if bool((deq != 0).any()):
        fail_with(f"zero-point on torch.zeros(3, 4) should give exact zeros back, got {short(deq)}")
    w = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    for dim in (0, 1, -1):
        label = "torch.tensor([[0, 0, 0], [1, -2, 0.5], [0, 0, 0]])"
        run_absmax(student, w, dim, label)
        run_zeropoint(student, w, dim, label)
    gen = torch.Generator().manual_seed(3)
    base = torch.randn(4, 6, generator=gen, dtype=torch.float64) * 2
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        x = base.to(dtype)
        label = f"<4x6 {str(dtype).replace('torch.', '')} tensor>"
        run_absmax(student, x, 0, label)
        run_zeropoint(student, x, 1, label)
