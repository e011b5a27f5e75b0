"""Hidden grader: group-wise symmetric INT4 quantization and INT4 packing (Lab 2.2, notebook 03).

Expectations are computed here from the stated rules, in float64:
    groups of `group_size` consecutive elements along the last dimension, one scale per group:
    scale = max|group| / 7 (1.0 for an all-zero group), q = clamp(round(w / scale), -7, 7), deq = q * scale
    packing: byte i of a row = (v[2i] & 0xF) | ((v[2i+1] & 0xF) << 4)
Where w / scale lies within 1e-3 of a rounding tie, either neighbour is accepted in the random tests.
"""
from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points

EXERCISES = ["group_int4"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40


def short(t) -> str:
    if isinstance(t, torch.Tensor):
        t = t.detach().double().tolist() if t.is_floating_point() else t.detach().tolist()
    text = repr(t)
    return text if len(text) < 240 else text[:237] + "..."


def tensor_out(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        fail_with(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    return value.detach()


def quantize(student, w: torch.Tensor, gs: int, label: str):
    call = f"quantize_int4_groupwise({label}, group_size={gs})"
    w0 = w.clone()
    res = student.quantize_int4_groupwise(w, gs)
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        fail_with(f"{call} should return (q, scales), got {type(res).__name__}")
    if not torch.equal(w, w0):
        fail_with(f"{call} modified its input")
    q, scales = tensor_out(res[0], f"q from {call}"), tensor_out(res[1], f"scales from {call}")
    if q.dtype != torch.int8 or tuple(q.shape) != tuple(w.shape):
        fail_with(f"{call} returned q of dtype {q.dtype} and shape {tuple(q.shape)}; expected torch.int8 with the "
                  f"shape of w {tuple(w.shape)}")
    want_shape = tuple(w.shape[:-1]) + (w.shape[-1] // gs,)
    if tuple(scales.shape) != want_shape:
        fail_with(f"{call} returned scales of shape {tuple(scales.shape)}; expected {want_shape} "
                  f"(w.shape[:-1] + (in // group_size,): one scale per group of {gs} consecutive columns)")
    if scales.dtype != torch.float32:
        fail_with(f"{call} returned scales of dtype {scales.dtype}; expected torch.float32")
    return call, q, scales


def check_against_rules(student, w: torch.Tensor, gs: int, label: str):
    call, q, scales = quantize(student, w, gs, label)
    wd = w.double()
    groups = wd.reshape(*w.shape[:-1], w.shape[-1] // gs, gs)
    amax = groups.abs().amax(dim=-1)
    want = torch.where(amax == 0, torch.ones_like(amax), amax.float().double() / 7)
    s = scales.double()
    bad = ~torch.isclose(s, want, rtol=1e-5, atol=0.0)
    if bool(bad.any()):
        idx = tuple(int(i) for i in bad.nonzero()[0])
        fail_with(f"{call}: scales{list(idx)} is {float(s[idx])!r}; expected {float(want[idx])!r} = max|group| / 7 "
                  f"of group {idx[-1]} (columns {idx[-1] * gs}..{idx[-1] * gs + gs - 1} of that row)")
    r = (groups / s.unsqueeze(-1)).reshape(w.shape)
    rounded = torch.clamp(torch.round(r), -7, 7)
    other = torch.clamp(torch.where(torch.round(r) == torch.floor(r), torch.ceil(r), torch.floor(r)), -7, 7)
    tie = ((r - torch.floor(r)) - 0.5).abs() < 1e-3
    ok = (q.double() == rounded) | (tie & (q.double() == other))
    if not bool(ok.all()):
        i = int((~ok).reshape(-1).nonzero()[0])
        fail_with(f"{call}: element {i} (w = {float(w.reshape(-1)[i])!r}) was quantized to {int(q.reshape(-1)[i])}; "
                  f"w / scale = {float(r.reshape(-1)[i]):.5f}, so clamp(round(w / scale), -7, 7) (half to even) gives "
                  f"{int(rounded.reshape(-1)[i])}")
    deq = tensor_out(student.dequantize_int4_groupwise(q.clone(), scales.clone(), gs),
                     f"dequantize_int4_groupwise(*{call})")
    if deq.dtype != torch.float32 or tuple(deq.shape) != tuple(w.shape):
        fail_with(f"dequantize_int4_groupwise(*{call}) returned dtype {deq.dtype}, shape {tuple(deq.shape)}; "
                  f"expected torch.float32 with shape {tuple(w.shape)}")
    want_deq = (q.double().reshape(groups.shape) * s.unsqueeze(-1)).reshape(w.shape)
    bad = ~torch.isclose(deq.double(), want_deq, rtol=1e-5, atol=1e-7)
    if bool(bad.any()):
        i = int(bad.reshape(-1).nonzero()[0])
        fail_with(f"dequantize_int4_groupwise(*{call}): element {i} is {float(deq.reshape(-1)[i])!r}; expected "
                  f"{float(want_deq.reshape(-1)[i])!r} (q times the scale of its own group)")
    err = (deq.double() - wd).abs()
    bound = (s.unsqueeze(-1).expand(groups.shape).reshape(w.shape)) / 2 * (1 + 1e-4) + 1e-7
    if bool((err > bound).any()):
        i = int((err > bound).reshape(-1).nonzero()[0])
        fail_with(f"{call} then dequantize: element {i} is off by {float(err.reshape(-1)[i]):.4g}, more than half "
                  "a step of its group's scale")
    return q, s, deq


@st.composite
def weights(draw):
    gs = draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
    n_groups = draw(st.integers(1, 4))
    lead = draw(st.lists(st.integers(1, 5), min_size=0, max_size=2))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(*lead, n_groups * gs, generator=gen) * draw(st.sampled_from([0.02, 1.0, 30.0]))
    if draw(st.booleans()):                         # an outlier column
        col = draw(st.integers(0, n_groups * gs - 1))
        w[..., col] *= 50
    if draw(st.booleans()) and n_groups > 1:        # a group of zeros
        w[..., :gs] = 0
    return w.float(), gs


@points(2)
def test_exact_small_case(student):
    """group scales = max|group| / 7 per group of consecutive columns; q rounded half to even (exact case)"""
    w = torch.tensor([[7.0, 3.5, -1.0, 0.5, 14.0, -7.0, 1.0, 3.0],
                      [0.875, -0.4375, 0.125, 0.0, 0.0, 0.0, 0.0, 0.0]])
    label = "torch.tensor([[7, 3.5, -1, 0.5, 14, -7, 1, 3], [0.875, -0.4375, 0.125, 0, 0, 0, 0, 0]])"
    call, q, scales = quantize(student, w.clone(), 4, label)
    want_s = [[1.0, 2.0], [0.125, 1.0]]
    if not all(math.isclose(a, b, rel_tol=1e-5) for ra, rb in zip(scales.double().tolist(), want_s)
               for a, b in zip(ra, rb)):
        fail_with(f"{call} returned scales {short(scales)}; expected {want_s} (max|group| / 7 per group of 4 "
                  "consecutive columns; 1.0 for the all-zero group)")
    want_q = [[7, 4, -1, 0, 7, -4, 0, 2], [7, -4, 1, 0, 0, 0, 0, 0]]
    if q.tolist() != want_q:
        fail_with(f"{call} returned q = {q.tolist()}; expected {want_q} (round half to even: 3.5 -> 4, 0.5 -> 0, "
                  "-3.5 -> -4, 1.5 -> 2)")
    deq = tensor_out(student.dequantize_int4_groupwise(q.clone(), scales.clone(), 4), f"dequantize_int4_groupwise(*{call})")
    want = [[7, 4, -1, 0, 14, -8, 0, 4], [0.875, -0.5, 0.125, 0, 0, 0, 0, 0]]
    if not all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for ra, rb in zip(deq.double().tolist(), want)
               for a, b in zip(ra, rb)):
        fail_with(f"dequantize_int4_groupwise(*{call}) returned {short(deq)}; expected {want}")


@points(3)
@settings(max_examples=120)
@given(case=weights())
def test_groupwise_rules(student, case):
    """random weights (1-D to 3-D, outliers, zero groups): scales per group, q in [-7, 7], error <= scale / 2"""
    w, gs = case
    check_against_rules(student, w, gs, f"<tensor of shape {tuple(w.shape)}: {short(w)}>")


@points(1)
def test_group_size_edges(student):
    """group_size = row length is per-row absmax; group_size 1 is lossless; bad group sizes raise ValueError"""
    gen = torch.Generator().manual_seed(7)
    w = torch.randn(3, 12, generator=gen)
    _, s, _ = check_against_rules(student, w, 12, "<3x12 tensor>")
    _, s1, deq = check_against_rules(student, w, 1, "<3x12 tensor>")
    if not torch.allclose(deq.double(), w.double(), rtol=1e-6, atol=0):
        fail_with("group_size=1: every weight is its own group (q = ±7), so dequantization should give w back")
    for gs in (5, 0, 24):
        try:
            student.quantize_int4_groupwise(w, gs)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"quantize_int4_groupwise(<3x12 tensor>, group_size={gs}) raised {type(exc).__name__}; "
                      "expected ValueError")
        fail_with(f"quantize_int4_groupwise(<3x12 tensor>, group_size={gs}) returned a result; expected ValueError "
                  "(12 columns cannot be cut into groups of that size)")


@points(1)
def test_pack_layout(student):
    """pack_int4: element 2i in the low nibble, 2i + 1 in the high nibble, 4-bit two's complement, uint8"""
    cases = [([1, -1, -7, 7], [0xF1, 0x79]), ([0, -8, 5, 0], [0x80, 0x05]), ([[3, 2], [-2, -3]], [[0x23], [0xDE]])]
    for vals, want in cases:
        q = torch.tensor(vals, dtype=torch.int8)
        call = f"pack_int4(torch.tensor({vals}, dtype=torch.int8))"
        packed = tensor_out(student.pack_int4(q.clone()), call)
        if packed.dtype != torch.uint8:
            fail_with(f"{call} returned dtype {packed.dtype}; expected torch.uint8")
        if packed.tolist() != want:
            fail_with(f"{call} returned {packed.tolist()}; expected {want} "
                      f"({[hex(v) for v in (want if isinstance(want[0], int) else want[0])]}: low nibble = even "
                      "index, high nibble = odd index, v & 0xF)")
    try:
        student.pack_int4(torch.zeros(3, dtype=torch.int8))
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001
        fail_with(f"pack_int4 of 3 values raised {type(exc).__name__}; expected ValueError (odd length)")
    else:
        fail_with("pack_int4 of 3 values returned a result; expected ValueError (an odd last dimension cannot be packed)")


@points(2)
@settings(max_examples=100)
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=2), half=st.integers(1, 8),
       seed=st.integers(0, 2 ** 31 - 1))
def test_pack_round_trip(student, lead, half, seed):
    """unpack_int4(pack_int4(q)) == q for every value in [-8, 7]; packed shape halves the last dimension"""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randint(-8, 8, (*lead, 2 * half), generator=gen, dtype=torch.int64).to(torch.int8)
    call = f"pack_int4(<int8 tensor of shape {tuple(q.shape)}: {short(q)}>)"
    packed = tensor_out(student.pack_int4(q.clone()), call)
    want_shape = tuple(lead) + (half,)
    if tuple(packed.shape) != want_shape or packed.dtype != torch.uint8:
        fail_with(f"{call} returned shape {tuple(packed.shape)}, dtype {packed.dtype}; expected {want_shape}, uint8")
    flat = [int(v) & 0xF for v in q.reshape(-1).tolist()]
    want = [flat[2 * i] | (flat[2 * i + 1] << 4) for i in range(len(flat) // 2)]
    if packed.reshape(-1).tolist() != want:
        fail_with(f"{call} returned bytes {packed.reshape(-1).tolist()}; expected {want}")
    back = tensor_out(student.unpack_int4(packed.clone()), f"unpack_int4({call})")
    if back.dtype != torch.int8 or tuple(back.shape) != tuple(q.shape):
        fail_with(f"unpack_int4({call}) returned dtype {back.dtype}, shape {tuple(back.shape)}; expected int8, "
                  f"{tuple(q.shape)}")
    if not torch.equal(back, q):
        i = int((back != q).reshape(-1).nonzero()[0])
        fail_with(f"unpack_int4({call})[{i}] is {int(back.reshape(-1)[i])}; expected {int(q.reshape(-1)[i])} "
                  "(a nibble >= 8 is negative: subtract 16)")
