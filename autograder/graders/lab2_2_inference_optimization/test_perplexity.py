"""Hidden grader: perplexity from logits, and sliding-window perplexity of a long sequence (Lab 2.2, notebook 03).

Expectations are computed here with plain Python math (float64 log-sum-exp), from the definitions:
    perplexity_from_logits: logits[b, t] predicts labels[b, t + 1]; labels == ignore_index are skipped;
        exp(sum of NLL over all predicted tokens of the batch / their number)
    sliding_window_perplexity: windows [begin, min(begin + window, N)) for begin = 0, stride, ... (stride < window);
        each window scores the positions no earlier window scored (and never position 0); stop at N;
        exp(total NLL / (N - 1))
The model used for the window test is written here: its logits depend on every earlier token of the
window it is given, so the context a window provides changes the result.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["perplexity"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40


def nll(row: list[float], target: int) -> float:
    m = max(row)
    return m + math.log(sum(math.exp(v - m) for v in row)) - row[target]


def expected_ppl(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> float:
    lg, lb = logits.double().tolist(), labels.tolist()
    total, count = 0.0, 0
    for b in range(len(lb)):
        for t in range(len(lb[b]) - 1):
            y = lb[b][t + 1]
            if y == ignore_index:
                continue
            total += nll(lg[b][t], y)
            count += 1
    return math.exp(total / count)


def ppl_call(student, logits, labels, label: str, **kw) -> float:
    call = f"perplexity_from_logits({label}" + "".join(f", {k}={v!r}" for k, v in kw.items()) + ")"
    return as_float(student.perplexity_from_logits(logits.clone(), labels.clone(), **kw), call), call


@st.composite
def batches(draw):
    b, t, v = draw(st.integers(1, 4)), draw(st.integers(2, 9)), draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, v, generator=gen) * draw(st.sampled_from([0.5, 2.0, 6.0]))
    labels = torch.randint(0, v, (b, t), generator=gen)
    for i in range(b):                                   # right padding of a different length per row
        pad = draw(st.integers(0, t - 2))
        if pad:
            labels[i, t - pad:] = -100
    if draw(st.booleans()):                              # and a few holes (e.g. masked prompt tokens)
        holes = torch.rand(b, t, generator=gen) < 0.2
        holes[:, 1] = False
        labels[holes] = -100
    return logits, labels


@points(2)
def test_small_exact_case(student):
    """next-token shift: logits at t predict labels at t + 1; padding (-100) skipped (hand-computed case)"""
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [5.0, 5.0, 5.0]],
                           [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    labels = torch.tensor([[0, 1, 2, 0], [2, 1, -100, -100]])
    want = expected_ppl(logits, labels)
    got, call = ppl_call(student, logits, labels, "<the 2x4x3 example>")
    if not math.isclose(got, want, rel_tol=1e-6):
        lines = {
            "no shift (logits[t] scored against labels[t])": expected_ppl(
                torch.cat([logits, torch.zeros(2, 1, 3)], 1), torch.cat([torch.zeros(2, 1, dtype=torch.long), labels], 1)),
        }
        hint = "".join(f"; {v:.5f} is what {k} gives" for k, v in lines.items() if math.isclose(got, v, rel_tol=1e-6))
        fail_with(f"{call} returned {got:.6f}; expected {want:.6f}: row 0 scores labels 1, 2, 0 with the logits at "
                  f"positions 0, 1, 2 and row 1 scores only label 1 (the rest is padding), exp(mean NLL of those "
                  f"4 tokens){hint}")
    uniform = torch.zeros(3, 6, 50)
    labels = torch.randint(0, 50, (3, 6), generator=torch.Generator().manual_seed(1))
    got, call = ppl_call(student, uniform, labels, "<all-zero logits over 50 tokens>")
    if not math.isclose(got, 50.0, rel_tol=1e-6):
        fail_with(f"{call} returned {got:.6f}; a uniform prediction over 50 tokens has perplexity exactly 50")


@points(3)
@settings(max_examples=120)
@given(case=batches())
def test_pooled_over_tokens(student, case):
    """random batches with padding: exp(total NLL / number of predicted tokens), pooled over the batch"""
    logits, labels = case
    if int((labels[:, 1:] != -100).sum()) == 0:
        return
    want = expected_ppl(logits, labels)
    got, call = ppl_call(student, logits, labels, f"<logits {tuple(logits.shape)}, labels {labels.tolist()}>")
    if not math.isclose(got, want, rel_tol=1e-6):
        fail_with(f"{call} returned {got:.6f}; expected {want:.6f} (every non-padding label after position 0 is "
                  "one predicted token; average the NLL over all of them, natural log, then exp)")


@points(1)
def test_stability_ignore_index_and_errors(student):
    """large logits stay finite, a custom ignore_index is honoured, no predicted token raises ValueError"""
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 5, 7, generator=gen) * 300
    labels = torch.randint(0, 7, (2, 5), generator=gen)
    want = expected_ppl(logits, labels)
    got, call = ppl_call(student, logits, labels, "<logits of size ~300>")
    if not (math.isfinite(got) or math.isinf(want)) or not math.isclose(got, want, rel_tol=1e-5):
        fail_with(f"{call} returned {got!r}; expected {want!r}: use log_softmax (log-sum-exp), not log(softmax)")
    logits = torch.randn(2, 5, 7, generator=gen)
    labels = torch.tensor([[1, 0, 2, 0, 3], [0, 4, 0, 5, 6]])
    want = expected_ppl(logits, labels, ignore_index=0)
    got, call = ppl_call(student, logits, labels, "<labels with zeros>", ignore_index=0)
    if not math.isclose(got, want, rel_tol=1e-6):
        fail_with(f"{call} returned {got:.6f}; expected {want:.6f} (labels equal to ignore_index=0 are skipped)")
    try:
        student.perplexity_from_logits(torch.zeros(1, 3, 4), torch.tensor([[1, -100, -100]]))
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001
        fail_with(f"perplexity_from_logits with no predicted token raised {type(exc).__name__}; expected ValueError")
    else:
        fail_with("perplexity_from_logits with labels [[1, -100, -100]] (nothing to predict) returned a value; "
                  "expected ValueError")


# ---- the sliding window --------------------------------------------------------------------------

class ContextModel(torch.nn.Module):
    """logits[t, v] depend on token t, on its position in the window and on all earlier tokens of the window."""

    V = 11

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, input_ids):
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
            raise ValueError(f"the model takes token ids of shape [1, L] (ids[None, begin:end]), got "
                             f"{getattr(input_ids, 'shape', type(input_ids).__name__)}")
        ids = input_ids[0].tolist()
        self.calls.append(len(ids))
        rows, acc = [], 0
        for t, tok in enumerate(ids):
            acc = (acc * 3 + tok + 1) % 17
            rows.append([math.sin(0.7 * v + 1.3 * tok) * 2 + math.cos(0.4 * v * (t + 1)) + 0.3 * ((acc + v) % 5)
                         for v in range(self.V)])
        return SimpleNamespace(logits=torch.tensor([rows], dtype=torch.float32))


def expected_window_ppl(model: ContextModel, ids: list[int], window: int, stride: int) -> float:
    n, total, prev_end = len(ids), 0.0, 0
    for begin in range(0, n, stride):
        end = min(begin + window, n)
        lg = model(torch.tensor([ids[begin:end]])).logits[0].double().tolist()
        for pos in range(max(prev_end, begin + 1), end):
            total += nll(lg[pos - 1 - begin], ids[pos])
        prev_end = end
        if end == n:
            break
    return math.exp(total / (n - 1))


@points(3)
@settings(max_examples=60)
@given(n=st.integers(2, 40), window=st.integers(2, 12), frac=st.floats(0.05, 1.0), seed=st.integers(0, 10 ** 6))
def test_sliding_window(student, n, window, frac, seed):
    """sliding windows: each position 1..N-1 scored once, with its window's earlier tokens as context"""
    window = max(window, 2)
    stride = max(1, min(window - 1, round(window * frac)))
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, ContextModel.V, (n,), generator=gen)
    want = expected_window_ppl(ContextModel(), ids.tolist(), window, stride)
    model = ContextModel()
    call = f"sliding_window_perplexity(model, <{n} token ids>, window={window}, stride={stride})"
    got = as_float(student.sliding_window_perplexity(model, ids.clone(), window, stride), call)
    if not math.isclose(got, want, rel_tol=1e-5):
        fail_with(f"{call} returned {got:.6f}; expected {want:.6f}. Windows start every {stride} tokens; each "
                  f"scores only the positions after the previous window's end, using the window's earlier tokens "
                  "as context; divide the total NLL by N - 1")
    if any(length > window for length in model.calls):
        fail_with(f"{call} gave the model {max(model.calls)} tokens at once; a window holds at most {window}")


@points(1)
def test_window_arguments(student):
    """a window covering the whole sequence equals perplexity_from_logits; bad stride/window raise ValueError"""
    ids = torch.randint(0, ContextModel.V, (15,), generator=torch.Generator().manual_seed(2))
    want = expected_ppl(ContextModel()(ids[None]).logits, ids[None])
    got = as_float(student.sliding_window_perplexity(ContextModel(), ids.clone(), 64, 16),
                   "sliding_window_perplexity(model, <15 ids>, window=64, stride=16)")
    if not math.isclose(got, want, rel_tol=1e-5):
        fail_with(f"sliding_window_perplexity(model, <15 ids>, window=64, stride=16) returned {got:.6f}; one window "
                  f"holds the whole sequence, so the answer is the plain perplexity {want:.6f}")
    for window, stride in ((4, 5), (4, 4), (4, 0), (1, 1)):
        try:
            student.sliding_window_perplexity(ContextModel(), ids.clone(), window, stride)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"sliding_window_perplexity(..., window={window}, stride={stride}) raised "
                      f"{type(exc).__name__}; expected ValueError (need 1 <= stride < window)")
        fail_with(f"sliding_window_perplexity(..., window={window}, stride={stride}) returned a value; expected "
                  "ValueError (need 1 <= stride < window: with stride >= window the first token of a window would have no "
                  "context and could not be scored)")
