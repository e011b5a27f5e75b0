"""Hidden grader: the sampler's logit filters, temperature / top-k / top-p (Lab 2.1, notebook 03).

Expectations are computed here from first principles (sorting plain Python lists), never from a
reference implementation.
"""
from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points

EXERCISES = ["sampling_filters"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 20


def rows_of(t: torch.Tensor) -> list[list[float]]:
    return t.detach().double().tolist()


def short(rows) -> str:
    text = repr([[round(v, 3) for v in r] for r in rows])
    return text if len(text) < 300 else text[:297] + "..."


def removed_mask(out: torch.Tensor) -> torch.Tensor:
    """Tokens a filter removed: -inf (or the dtype's most negative value)."""
    low = torch.finfo(out.dtype).min
    return torch.isneginf(out) | (out <= low)


def check_tensor(out, like: torch.Tensor, call: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        fail_with(f"{call} returned {type(out).__name__}, expected a torch.Tensor of logits")
    if tuple(out.shape) != tuple(like.shape):
        fail_with(f"{call} returned shape {tuple(out.shape)}, expected {tuple(like.shape)} (same as the logits)")
    if out.dtype != like.dtype:
        fail_with(f"{call} returned dtype {out.dtype}, expected {like.dtype} (same as the logits)")
    return out


def check_filter(out: torch.Tensor, logits: torch.Tensor, keep: list[list[bool]], call: str) -> None:
    """out keeps exactly `keep` (values unchanged) and removes the rest (-inf)."""
    removed = removed_mask(out).tolist()
    src, got = rows_of(logits), rows_of(out)
    for i, row in enumerate(keep):
        kept_ids = [j for j, k in enumerate(row) if k]
        got_ids = [j for j, r in enumerate(removed[i]) if not r]
        if kept_ids != got_ids:
            fail_with(f"{call}, logits row {i} = {short([src[i]])[1:-1]}: kept token ids {got_ids}, "
                      f"expected {kept_ids}")
        for j in kept_ids:
            if not math.isclose(got[i][j], src[i][j], rel_tol=1e-6, abs_tol=1e-6):
                fail_with(f"{call}: row {i}, token {j} was kept but its logit changed from {src[i][j]:.4f} "
                          f"to {got[i][j]:.4f}; a filter leaves kept logits as they are")


def expected_top_k(row: list[float], k: int) -> list[bool]:
    if k <= 0 or k >= len(row):
        return [True] * len(row)
    kth = sorted(row, reverse=True)[k - 1]
    return [v >= kth for v in row]


def softmax(row: list[float]) -> list[float]:
    m = max(row)
    e = [math.exp(v - m) if v != -math.inf else 0.0 for v in row]
    s = sum(e)
    return [x / s for x in e]


def check_nucleus(row: list[float], kept: list[bool], p: float, call: str, i: int) -> None:
    """kept is a most-likely-first set whose mass reaches p, and dropping its least likely member would not."""
    probs = softmax(row)
    top = max(range(len(row)), key=lambda j: row[j])
    ids = [j for j, k in enumerate(kept) if k]
    if p >= 1.0:
        if len(ids) != len(row):
            fail_with(f"{call}: row {i} has p = 1.0, which switches the filter off, but only tokens {ids} were kept")
        return
    if not kept[top]:
        fail_with(f"{call}: row {i} removed its most likely token {top}; the top token is always kept")
    gone = [j for j, k in enumerate(kept) if not k]
    if gone and min(probs[j] for j in ids) < max(probs[j] for j in gone) - 1e-12:
        fail_with(f"{call}: row {i} kept tokens {ids} but removed more likely ones among {gone}; "
                  f"top-p keeps the most likely tokens")
    mass = sum(probs[j] for j in ids)
    if mass < p - 1e-4:
        fail_with(f"{call}: row {i} kept tokens {ids} with probability mass {mass:.4f} < p = {p}; "
                  f"the kept set must reach p")
    smallest = min(probs[j] for j in ids)
    if len(ids) > 1 and mass - smallest >= p + 1e-4:
        fail_with(f"{call}: row {i} kept tokens {ids} (mass {mass:.4f}) although without its least likely one the "
                  f"mass is still {mass - smallest:.4f} >= p = {p}; keep the smallest such set")


# ---- strategies -------------------------------------------------------------------------------------

tie_rows = st.integers(2, 9).flatmap(
    lambda v: st.lists(st.lists(st.integers(-4, 4), min_size=v, max_size=v), min_size=1, max_size=4))


def distinct_rows(min_vocab=2, max_vocab=12):
    return st.integers(min_vocab, max_vocab).flatmap(lambda v: st.lists(
        st.lists(st.integers(-400, 400), min_size=v, max_size=v, unique=True).map(lambda r: [x / 50 for x in r]),
        min_size=1, max_size=4))


# ---- tests ------------------------------------------------------------------------------------------

@points(1)
def test_temperature_scales_logits(student):
    """apply_temperature divides the logits by t (a number or one t per row)"""
    logits = torch.tensor([[2.0, 1.0, -1.0, 0.5], [0.0, 3.0, 1.5, -2.0]], dtype=torch.float64)
    for t in (0.5, 1.0, 2.0):
        out = check_tensor(student.apply_temperature(logits.clone(), t), logits, f"apply_temperature(logits, {t})")
        want = [[v / t for v in r] for r in rows_of(logits)]
        if not all(math.isclose(a, b, rel_tol=1e-9) for ra, rb in zip(rows_of(out), want) for a, b in zip(ra, rb)):
            fail_with(f"apply_temperature({short(rows_of(logits))}, {t}) returned {short(rows_of(out))}, "
                      f"expected {short(want)} (logits / t)")
    ts = torch.tensor([0.5, 2.0], dtype=torch.float64)
    call = "apply_temperature(logits, torch.tensor([0.5, 2.0]))"
    out = check_tensor(student.apply_temperature(logits.clone(), ts), logits, call)
    want = [[v / t for v in r] for r, t in zip(rows_of(logits), [0.5, 2.0])]
    if not all(math.isclose(a, b, rel_tol=1e-9) for ra, rb in zip(rows_of(out), want) for a, b in zip(ra, rb)):
        fail_with(f"{call} returned {short(rows_of(out))}, expected {short(want)}: row i is divided by t[i]")
    x = torch.tensor([[1.0, 3.0, 2.0]])
    hot = student.apply_temperature(x.clone(), 2.0).softmax(-1)
    cold = student.apply_temperature(x.clone(), 0.5).softmax(-1)
    if not float(hot.max()) < float(x.softmax(-1).max()) < float(cold.max()):
        fail_with("after apply_temperature, t = 2 should flatten the distribution and t = 0.5 sharpen it")


@points(2)
@settings(max_examples=80)
@given(rows=tie_rows, ks=st.lists(st.integers(0, 12), min_size=4, max_size=4), scalar=st.booleans())
def test_top_k_keeps_the_k_largest(student, rows, ks, scalar):
    """top_k_filter keeps the k largest logits of each row, ties kept; k = 0 keeps all; one k per row"""
    logits = torch.tensor(rows, dtype=torch.float32)
    if scalar:
        k_arg, k_rows, shown = ks[0], [ks[0]] * len(rows), str(ks[0])
    else:
        k_rows = ks[:len(rows)]
        k_arg, shown = torch.tensor(k_rows), f"torch.tensor({k_rows})"
    call = f"top_k_filter({short(rows)}, {shown})"
    out = check_tensor(student.top_k_filter(logits.clone(), k_arg), logits, call)
    check_filter(out, logits, [expected_top_k(r, k) for r, k in zip(rows_of(logits), k_rows)], call)


@points(2)
@settings(max_examples=80)
@given(rows=distinct_rows(), ps=st.lists(st.sampled_from([0.01, 0.1, 0.3, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]),
                                          min_size=4, max_size=4), scalar=st.booleans())
def test_top_p_keeps_the_smallest_nucleus(student, rows, ps, scalar):
    """top_p_filter keeps the smallest most-likely set with mass >= p; top token always kept; p = 1 keeps all"""
    logits = torch.tensor(rows, dtype=torch.float32)
    if scalar:
        p_arg, p_rows, shown = ps[0], [ps[0]] * len(rows), str(ps[0])
    else:
        p_rows = ps[:len(rows)]
        p_arg, shown = torch.tensor(p_rows), f"torch.tensor({p_rows})"
    call = f"top_p_filter({short(rows)}, {shown})"
    out = check_tensor(student.top_p_filter(logits.clone(), p_arg), logits, call)
    removed = removed_mask(out).tolist()
    src, got = rows_of(logits), rows_of(out)
    for i, (row, p) in enumerate(zip(src, p_rows)):
        kept = [not r for r in removed[i]]
        check_nucleus(row, kept, p, call, i)
        for j, k in enumerate(kept):
            if k and not math.isclose(got[i][j], row[j], rel_tol=1e-6, abs_tol=1e-6):
                fail_with(f"{call}: row {i}, token {j} was kept but its logit changed from {row[j]:.4f} to "
                          f"{got[i][j]:.4f}; a filter leaves kept logits as they are")


@points(1)
def test_inputs_untouched_and_dtypes_kept(student):
    """the filters do not modify their inputs and keep the logits' shape and dtype"""
    helpers = student.__sandbox__.helpers
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(3, 50, generator=gen, dtype=torch.float64) * 3
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        logits = base.to(dtype)
        for name, arg, shown in [("apply_temperature", torch.tensor([0.7, 1.0, 1.3]), "torch.tensor([0.7, 1.0, 1.3])"),
                                 ("apply_temperature", 0.7, "0.7"),
                                 ("top_k_filter", torch.tensor([5, 0, 50]), "torch.tensor([5, 0, 50])"),
                                 ("top_k_filter", 3, "3"),
                                 ("top_p_filter", torch.tensor([0.5, 1.0, 0.9]), "torch.tensor([0.5, 1.0, 0.9])"),
                                 ("top_p_filter", 0.8, "0.8")]:
            x = logits.clone()
            arg_copy = arg.clone() if isinstance(arg, torch.Tensor) else arg
            call = f"{name}(<3x50 {str(dtype).replace('torch.', '')} logits>, {shown})"
            # called inside the sandbox, which sends back the arguments as they are afterwards (the grader's
            # own tensors would only ever be copied to the student)
            out, args_after, _ = helpers.call_keeping_args(getattr(student, name), [x, arg_copy])
            out = check_tensor(out, logits, call)
            x_after, arg_after = args_after
            if not torch.equal(x, logits) or not isinstance(x_after, torch.Tensor) or not torch.equal(x_after, logits):
                fail_with(f"{call} modified the logits it was given; return a new tensor instead")
            if isinstance(arg, torch.Tensor) and (not torch.equal(arg_copy, arg) or not isinstance(
                    arg_after, torch.Tensor) or not torch.equal(arg_after, arg)):
                fail_with(f"{call} modified its k / p / t argument")


@points(2)
def test_sampling_matches_renormalised_distribution(student):
    """sampling after temperature, top-k and top-p follows the renormalised kept distribution"""
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 40, generator=gen) * 2.5
    t, k, p = torch.tensor([0.8, 1.2]), torch.tensor([10, 0]), torch.tensor([0.9, 0.7])
    call = "top_p_filter(top_k_filter(apply_temperature(logits, [0.8, 1.2]), [10, 0]), [0.9, 0.7])"
    x = student.apply_temperature(logits.clone(), t)
    x = student.top_k_filter(x, k)
    x = student.top_p_filter(x, p)
    x = check_tensor(x, logits, call)
    probs = x.double().softmax(-1)
    if not torch.isfinite(probs).all():
        fail_with(f"softmax of {call} is not a distribution (NaN): was every token of a row removed?")
    for i in range(2):
        row = [v / float(t[i]) for v in rows_of(logits)[i]]
        keep = expected_top_k(row, int(k[i]))
        masked = [v if kk else -math.inf for v, kk in zip(row, keep)]
        q = softmax(masked)
        order = sorted(range(len(q)), key=lambda j: -q[j])
        mass, nucleus = 0.0, set()
        for j in order:
            if mass >= float(p[i]):
                break
            nucleus.add(j)
            mass += q[j]
        want = [q[j] / mass if j in nucleus else 0.0 for j in range(len(q))]
        got = probs[i].tolist()
        worst = max(abs(a - b) for a, b in zip(got, want))
        if worst > 1e-4:
            fail_with(f"row {i}: softmax of {call} differs from the renormalised kept distribution by {worst:.4f} "
                      f"(kept tokens {sorted(nucleus)}): removed tokens must get probability 0 and kept ones keep "
                      f"their relative odds")
        draws = torch.multinomial(probs[i].float(), 20000, replacement=True,
                                  generator=torch.Generator().manual_seed(2 + i))
        freq = torch.bincount(draws, minlength=len(want)).double() / 20000
        outside = [j for j in range(len(want)) if want[j] == 0 and freq[j] > 0]
        if outside:
            fail_with(f"row {i}: 20000 samples after the filters drew removed tokens {outside}")
        dev = max(abs(float(freq[j]) - want[j]) for j in range(len(want)))
        if dev > 0.02:
            fail_with(f"row {i}: token frequencies in 20000 samples differ from the renormalised distribution by "
                      f"{dev:.3f}")
