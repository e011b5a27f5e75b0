"""Hidden grader: the speculative decoding verify step (Lab 2.2, notebook 02).

Expected values are computed here from first principles: for fixed draft tokens x_1..x_gamma the
verify step has an exact output law. With a_i = min(1, p_i(x_i) / q_i(x_i)) and the residual
r_i = normalize(max(0, p_i - q_i)), the output is

    [x_1 .. x_k, y]   with probability a_1 ... a_k (1 - a_{k+1}) r_{k+1}(y)     (k < gamma)
    [x_1 .. x_gamma, b] with probability a_1 ... a_gamma p_{gamma+1}(b)          (all accepted)

The statistical tests compare many seeded trials with that law by Pearson's chi-square test and
fail only when the p-value is below ALPHA_TEST = 1e-6 (every category expects >= 50 counts, so the
chi-square approximation holds). A correct implementation therefore fails one such test with
probability about 1e-6 whatever order it draws its random numbers in; there are 5 of them, so a
correct submission is failed with probability < 5e-6 (union bound; the seeds are fixed, so the
result of a given implementation is reproducible). The mutants of tests/corpus/speculative_verify/ give
p-values far below 1e-20.

Many calls with the same inputs are made by ``batched.repeat`` (``sandbox_helpers.repeat_calls``): the
sandbox makes them in a few chunks, each call on fresh copies of the inputs and with the same generator
advancing from call to call, as one call at a time would; each result is checked here, in order.
"""
from __future__ import annotations

import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from autograder.api import as_int_list, fail_with, points
from autograder.graders.batched import repeat, sandbox_function

EXERCISES = ["speculative_verify"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40
MEMORY_MB = 4096

ALPHA_TEST = 1e-6   # chi-square tests fail a correct solution with this probability (each)


def T(rows, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(rows, dtype=dtype)


# Scenario A: gamma 3, vocabulary 6. a_1 = 0.5 (p < q), a_2 = 1 (p > q), a_3 = 0.4; the bonus row
# differs from every other row.
A_DRAFTS = [1, 2, 4]
A_Q = [[0.10, 0.60, 0.10, 0.10, 0.05, 0.05],
       [0.10, 0.10, 0.30, 0.20, 0.20, 0.10],
       [0.10, 0.10, 0.10, 0.10, 0.50, 0.10]]
A_P = [[0.25, 0.30, 0.05, 0.25, 0.10, 0.05],
       [0.05, 0.10, 0.45, 0.10, 0.20, 0.10],
       [0.30, 0.05, 0.20, 0.10, 0.20, 0.15],
       [0.05, 0.05, 0.10, 0.20, 0.30, 0.30]]

# Scenario C: q == p (every draft must be accepted), gamma 4, distinct rows.
C_DRAFTS = [3, 0, 5, 2]
C_P = [[0.10, 0.20, 0.30, 0.25, 0.10, 0.05],
       [0.40, 0.10, 0.10, 0.10, 0.20, 0.10],
       [0.05, 0.05, 0.20, 0.20, 0.20, 0.30],
       [0.15, 0.15, 0.40, 0.10, 0.10, 0.10],
       [0.30, 0.35, 0.05, 0.05, 0.05, 0.20]]

# Scenario D: drafts drawn from q by the grader; the first output token must follow p_1.
D_Q = [[0.40, 0.05, 0.20, 0.05, 0.25, 0.05],
       [0.20, 0.20, 0.20, 0.20, 0.10, 0.10]]
D_P = [[0.10, 0.25, 0.15, 0.30, 0.10, 0.10],
       [0.05, 0.35, 0.10, 0.20, 0.20, 0.10],
       [0.25, 0.15, 0.15, 0.15, 0.15, 0.15]]


def exact_law(drafts, q, p) -> dict[tuple, float]:
    """(accepted count k, last token) -> probability, for fixed drafts (see the module docstring)."""
    law, reach = {}, 1.0
    for i, x in enumerate(drafts):
        a = min(1.0, p[i][x] / q[i][x])
        residual = [max(0.0, pv - qv) for pv, qv in zip(p[i], q[i])]
        total = sum(residual)
        if a < 1.0:
            for y, r in enumerate(residual):
                if r > 0:
                    law[(i, y)] = reach * (1.0 - a) * r / total
        reach *= a
    for b, pb in enumerate(p[len(drafts)]):
        if pb > 0:
            law[(len(drafts), b)] = reach * pb
    return law


def call(student, drafts, q, p, generator, what: str) -> list[int]:
    q_t, p_t = (q.clone(), p.clone()) if isinstance(q, torch.Tensor) else (T(q), T(p))
    try:
        out = student.verify_draft(list(drafts), q_t, p_t, generator=generator)
    except Exception as e:  # noqa: BLE001 - any crash is the student's failure
        fail_with(f"{what} raised {type(e).__name__}: {e}")
    return checked(out, drafts, p_t, what)


def calls(student, drafts_rows, q, p, what, generator=None, generators=None):
    """``call`` for each drafts of ``drafts_rows`` with the same q and p (fresh copies for each call) and
    ``generator`` (advancing from call to call) or ``generators[i]``, made in a few round trips. ``what``: the
    call's description, or a function of its index. Yields each checked output, in order."""
    q_t, p_t = (q.clone(), p.clone()) if isinstance(q, torch.Tensor) else (T(q), T(p))
    row_kwargs = None if generators is None else [{"generator": g} for g in generators]
    results = repeat(student, student, "verify_draft", [[list(d)] for d in drafts_rows], tail=[q_t, p_t],
                     kwargs=None if generators is not None else {"generator": generator}, row_kwargs=row_kwargs)
    for i, (out, e) in enumerate(results):
        text = what(i) if callable(what) else what
        if e is not None:
            fail_with(f"{text} raised {type(e).__name__}: {e}")
        yield checked(out, drafts_rows[i], p_t, text)


def checked(out, drafts, p_t, what: str) -> list[int]:
    """The checks every output of a verify step must pass (``p_t``: the target probabilities it was given)."""
    out = as_int_list(out, what)
    gamma = len(drafts)
    if not 1 <= len(out) <= gamma + 1:
        fail_with(f"{what} returned {out}: {len(out)} tokens; a verify step returns between 1 and "
                  f"gamma + 1 = {gamma + 1} tokens (the accepted drafts plus one replacement or bonus token)")
    k = len(out) - 1
    if out[:k] != list(drafts[:k]):
        fail_with(f"{what} returned {out}, but the drafts are {list(drafts)}: everything before the last "
                  f"token must be the accepted drafts x_1..x_k in order (stop at the first rejection)")
    vocab = (p_t.shape[-1])
    if not 0 <= out[-1] < vocab:
        fail_with(f"{what} returned token {out[-1]}, outside the vocabulary 0..{vocab - 1}")
    return out


def check_support(out, drafts, q, p, what: str) -> None:
    """The last token must have positive probability under the law of its position."""
    k, y = len(out) - 1, out[-1]
    if k == len(drafts):
        if p[k][y] <= 0:
            fail_with(f"{what} returned {out}: all drafts accepted, but the bonus token {y} has probability 0 in "
                      f"target_probs[{k}]; the bonus token is drawn from the last row, p_(gamma+1)")
        return
    x = drafts[k]
    if p[k][x] >= q[k][x]:
        fail_with(f"{what} returned {out}: draft {k + 1} (token {x}) was rejected although p = {p[k][x]:.3f} >= "
                  f"q = {q[k][x]:.3f}, so min(1, p/q) = 1 and it must always be accepted")
    if p[k][y] - q[k][y] <= 0:
        fail_with(f"{what} returned {out}: after rejecting draft {k + 1} (token {x}) it drew token {y}, whose "
                  f"residual max(0, p - q) = max(0, {p[k][y]:.3f} - {q[k][y]:.3f}) is 0; the replacement must be "
                  f"drawn from normalize(max(0, p_{k + 1} - q_{k + 1}))")


def chi_square(counts: dict, law: dict, n: int, what: str, describe) -> None:
    extra = [key for key in counts if key not in law]
    if extra:
        fail_with(f"{what}: outcome {describe(extra[0])} occurred but has probability 0")
    stat = sum((counts.get(key, 0) - n * pr) ** 2 / (n * pr) for key, pr in law.items())
    dof = len(law) - 1
    pvalue = float(chi2.sf(stat, dof))
    if pvalue < ALPHA_TEST:
        worst = max(law, key=lambda key: abs(counts.get(key, 0) - n * law[key]) / (n * law[key]) ** 0.5)
        fail_with(f"{what}: over {n} seeded trials the outcomes do not follow the exact distribution "
                  f"(chi-square {stat:.0f} with {dof} degrees of freedom, p-value {pvalue:.1e} < {ALPHA_TEST:g}); "
                  f"worst: {describe(worst)} observed {counts.get(worst, 0) / n:.4f} of the time, "
                  f"expected {law[worst]:.4f}")


def describe_outcome(drafts):
    def describe(key):
        k, y = key
        if k == len(drafts):
            return f"'all {k} drafts accepted, bonus token {y}'"
        return f"'{k} draft(s) accepted, then replacement token {y}'"
    return describe


# ---- greedy --------------------------------------------------------------------------------------

def expected_greedy(drafts, argmax):
    out = []
    for x, b in zip(drafts, argmax):
        if x != b:
            break
        out.append(x)
    return out + [argmax[len(out)]]


@points(2)
def test_greedy_examples(student):
    """verify_greedy keeps the matching prefix, then the target's token (a correction or the bonus)"""
    cases = [([5, 7, 9], [5, 7, 9, 11]), ([5, 7, 9], [5, 8, 9, 11]), ([5, 7, 9], [4, 7, 9, 11]),
             ([2], [2, 3]), ([2], [1, 3]), ([1, 1, 1, 1], [1, 1, 1, 2, 0])]
    for drafts, argmax in cases:
        want = expected_greedy(drafts, argmax)
        got = as_int_list(student.verify_greedy(list(drafts), list(argmax)), f"verify_greedy({drafts}, {argmax})")
        if got != want:
            fail_with(f"verify_greedy({drafts}, {argmax}) returned {got}, expected {want}")
    got = as_int_list(student.verify_greedy([4, 6], torch.tensor([4, 6, 8])), "verify_greedy([4, 6], tensor)")
    if got != [4, 6, 8]:
        fail_with(f"verify_greedy([4, 6], torch.tensor([4, 6, 8])) returned {got}, expected [4, 6, 8] "
                  f"(target_argmax may be a tensor, as in the engine)")


@points(2)
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(lambda g: st.tuples(st.lists(st.integers(0, 3), min_size=g, max_size=g),
                                                     st.lists(st.integers(0, 3), min_size=g + 1, max_size=g + 1))))
def test_greedy_property(student, case):
    """verify_greedy on random drafts and argmaxes (small vocabulary, many matches)"""
    drafts, argmax = case
    want = expected_greedy(drafts, argmax)
    got = as_int_list(student.verify_greedy(list(drafts), list(argmax)), f"verify_greedy({drafts}, {argmax})")
    if got != want:
        fail_with(f"verify_greedy({drafts}, {argmax}) returned {got}, expected {want}")


# ---- sampling: deterministic cases ----------------------------------------------------------------

@points(3)
def test_equal_distributions_always_accept(student):
    """q == p: every draft is accepted and a bonus token from the last row is appended (float64 and float32)"""
    for dtype in (torch.float64, torch.float32):
        q, p = T(C_P[:-1], dtype), T(C_P, dtype)
        seeds = range(200)

        def describe(i, dtype=dtype):
            return f"verify_draft({C_DRAFTS}, q, p) with q == p ({dtype}, seed {seeds[i]})"
        outs = calls(student, [C_DRAFTS] * len(seeds), q, p, describe,
                     generators=[torch.Generator().manual_seed(seed) for seed in seeds])
        for i, out in enumerate(outs):
            what = describe(i)
            if len(out) != len(C_DRAFTS) + 1:
                fail_with(f"{what} returned {out}; when q == p, min(1, p/q) = 1 for every draft, so all "
                          f"{len(C_DRAFTS)} drafts are accepted and a bonus token is appended "
                          f"({len(C_DRAFTS) + 1} tokens)")
            check_support(out, C_DRAFTS, C_P[:-1], C_P, what)


@points(3)
def test_zero_target_probability_always_rejects(student):
    """a draft token with p(x) = 0 is always rejected and never output; earlier sure drafts are kept"""
    q = [[0.10, 0.50, 0.20, 0.10, 0.10], [0.20, 0.20, 0.20, 0.20, 0.20]]
    p = [[0.30, 0.00, 0.30, 0.20, 0.20], [0.20, 0.20, 0.20, 0.20, 0.20], [0.20, 0.20, 0.20, 0.20, 0.20]]
    def describe(i):
        return f"verify_draft([1, 3], q, p) with p_1(1) = 0 (seed {i})"
    outs = calls(student, [[1, 3]] * 150, q, p, describe,
                 generators=[torch.Generator().manual_seed(seed) for seed in range(150)])
    for seed, out in enumerate(outs):
        what = describe(seed)
        if len(out) != 1 or out[0] == 1:
            fail_with(f"{what} returned {out}; p_1(1) = 0 gives acceptance probability 0, so the step must return "
                      f"exactly one replacement token, never 1")
        check_support(out, [1, 3], q, p, what)
    # the first draft is sure (p >= q), the second has p = 0
    q2 = [[0.20, 0.20, 0.20, 0.20, 0.20], [0.10, 0.10, 0.60, 0.10, 0.10]]
    p2 = [[0.10, 0.30, 0.20, 0.20, 0.20], [0.25, 0.25, 0.00, 0.25, 0.25], [0.20, 0.20, 0.20, 0.20, 0.20]]
    def describe2(i):
        return f"verify_draft([1, 2], q, p) with p_1(1) > q_1(1) and p_2(2) = 0 (seed {i})"
    outs = calls(student, [[1, 2]] * 150, q2, p2, describe2,
                 generators=[torch.Generator().manual_seed(seed) for seed in range(150)])
    for seed, out in enumerate(outs):
        what = describe2(seed)
        if len(out) != 2 or out[1] == 2:
            fail_with(f"{what} returned {out}; draft 1 is always accepted (p >= q) and draft 2 always rejected "
                      f"(p = 0): expected [1, y] with y != 2")
        check_support(out, [1, 2], q2, p2, what)


@points(1)
def test_inputs_unchanged_and_default_generator(student):
    """verify_draft leaves its inputs unchanged and works with generator=None (torch's global generator)"""
    q, p = T(A_Q), T(A_P)
    q0, p0 = q.clone(), p.clone()
    torch.manual_seed(0)
    sandbox_function(student, "seed_everything")(0)
    # The same q and p objects (made in the sandbox) for every call, and each call's q and p afterwards: a
    # change in place shows at the call that makes it.
    results = repeat(student, student, "verify_draft", [[list(A_DRAFTS)] for _ in range(50)], tail=[q, p],
                     fresh=False, first=50)
    for result, e in results:
        if e is not None:
            fail_with(f"verify_draft({A_DRAFTS}, q, p) without a generator raised {type(e).__name__}: {e}")
        try:
            out, (q_after, p_after) = result
        except (TypeError, ValueError):
            fail_with("your code's process answered nonsense to a batched call")
        out = as_int_list(out, "verify_draft(...) without a generator")
        if not (isinstance(q_after, torch.Tensor) and isinstance(p_after, torch.Tensor)) \
                or not torch.equal(q_after, q0) or not torch.equal(p_after, p0):
            fail_with("verify_draft modified draft_probs or target_probs in place; the engine reuses them")
        check_support(out, A_DRAFTS, A_Q, A_P, f"verify_draft({A_DRAFTS}, q, p)")


@points(2)
def test_generator_makes_it_reproducible(student):
    """all randomness comes from `generator`: the same seed gives the same tokens, whatever else ran"""
    import numpy as np
    for seed in range(30):
        outs = []
        for other in (seed + 1000, seed + 5000):
            torch.manual_seed(other)          # disturb every other source of randomness, here
            random.seed(other)
            np.random.seed(other)
            sandbox_function(student, "seed_everything")(other)     # ... and where the student's code runs
            outs.append(call(student, A_DRAFTS, A_Q, A_P, torch.Generator().manual_seed(seed),
                             f"verify_draft({A_DRAFTS}, q, p, generator seeded {seed})"))
        if outs[0] != outs[1]:
            fail_with(f"verify_draft({A_DRAFTS}, q, p) with a generator seeded {seed} returned {outs[0]} and then "
                      f"{outs[1]}: take every random number from `generator` (torch.rand(..., generator=generator), "
                      f"torch.multinomial(..., generator=generator)), not from torch's global generator, "
                      f"`random` or numpy")


# ---- sampling: the distribution -------------------------------------------------------------------

def run_trials(student, drafts, q, p, n: int, seed: int, what: str) -> dict:
    gen = torch.Generator().manual_seed(seed)
    q_t, p_t = T(q), T(p)
    counts: dict = {}
    for out in calls(student, [drafts] * n, q_t, p_t, what, generator=gen):
        check_support(out, drafts, q, p, what)
        key = (len(out) - 1, out[-1])
        counts[key] = counts.get(key, 0) + 1
    return counts


@points(4)
def test_output_law_fixed_drafts(student):
    """for fixed drafts, (accepted count, last token) follows the exact law (chi-square, 6000 trials)"""
    n = 6000
    what = (f"verify_draft({A_DRAFTS}, q, p) with acceptance probabilities min(1, p/q) = 0.5, 1, 0.4")
    counts = run_trials(student, A_DRAFTS, A_Q, A_P, n, 1234, what)
    law = exact_law(A_DRAFTS, A_Q, A_P)
    # the number of accepted drafts alone first: the clearest message for acceptance mistakes
    acc_law, acc_counts = {}, {}
    for (k, _), pr in law.items():
        acc_law[k] = acc_law.get(k, 0.0) + pr
    for (k, _), c in counts.items():
        acc_counts[k] = acc_counts.get(k, 0) + c
    chi_square(acc_counts, acc_law, n, what + " [number of accepted drafts]",
               lambda k: f"'{k} draft(s) accepted'")
    chi_square(counts, law, n, what, describe_outcome(A_DRAFTS))


@points(1)
def test_bonus_token_follows_last_row(student):
    """when everything is accepted, the bonus token follows target_probs[gamma] (chi-square, 3000 trials)"""
    n = 3000
    what = f"verify_draft({C_DRAFTS}, q, p) with q == p"
    counts = run_trials(student, C_DRAFTS, C_P[:-1], C_P, n, 99, what)
    chi_square(counts, exact_law(C_DRAFTS, C_P[:-1], C_P), n, what + " [bonus token]",
               describe_outcome(C_DRAFTS))


@points(2)
def test_outputs_follow_the_target(student):
    """with drafts drawn from q, the first output token follows p_1 exactly (chi-square, 6000 trials)"""
    n = 6000
    draw = torch.Generator().manual_seed(7)       # the grader's own draft sampler
    gen = torch.Generator().manual_seed(8)        # the student's
    q_t, p_t = T(D_Q), T(D_P)
    first, accepted = {}, {}
    what = "verify_draft(drafts drawn from q, q, p) (gamma 2, vocabulary 6)"
    all_drafts = [[int(torch.multinomial(q_t[i], 1, generator=draw)) for i in range(2)] for _ in range(n)]
    for drafts, out in zip(all_drafts, calls(student, all_drafts, q_t, p_t, what, generator=gen)):
        check_support(out, drafts, D_Q, D_P, what + f" with drafts {drafts}")
        first[out[0]] = first.get(out[0], 0) + 1
        accepted[len(out) - 1] = accepted.get(len(out) - 1, 0) + 1
    alpha = [sum(min(a, b) for a, b in zip(D_P[i], D_Q[i])) for i in range(2)]   # P(accept at i) = sum min(p, q)
    acc_law = {0: 1 - alpha[0], 1: alpha[0] * (1 - alpha[1]), 2: alpha[0] * alpha[1]}
    chi_square(accepted, acc_law, n, what + " [number of accepted drafts]", lambda k: f"'{k} draft(s) accepted'")
    chi_square(first, {x: pr for x, pr in enumerate(D_P[0])}, n, what + " [first output token vs p_1]",
               lambda x: f"'first token {x}'")
