# Generated from source/lab2_2_inference_optimization/03-Quantization_Inference.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb03 ---
# Imports every exercise of this notebook may use.
import math

import torch

# --- cell: perplexity ---
"""Perplexity: exp of the mean negative log-likelihood (natural log) per predicted token.

``perplexity_from_logits(logits, labels, ignore_index=-100)``: ``logits`` ``[batch, seq, vocab]``,
``labels`` ``[batch, seq]`` aligned with the *inputs* (Hugging Face convention): the logits at
position ``t`` predict the label at ``t + 1``, so the last logits and the first label of every row
predict / are predicted by nothing. Labels equal to ``ignore_index`` (padding) are skipped. All
predicted tokens of the batch are pooled: ``exp(sum of NLL / number of predicted tokens)`` (not a
mean of per-sequence perplexities). Compute in float64 with log-softmax. ``ValueError`` if no token
is predicted. Returns a Python float.

``sliding_window_perplexity(model, input_ids, window, stride)``: the perplexity of one long 1-D
sequence of token ids for a model with a limited context. Windows start at ``begin = 0, stride,
2 * stride, ...`` and cover ``input_ids[begin : end]`` with ``end = min(begin + window, N)``; call
``model(ids[None, begin:end]).logits`` (``[1, end - begin, vocab]``). A window scores only the tokens
that no earlier window scored, i.e. positions ``prev_end ... end - 1`` (``prev_end`` = the previous
window's end, 0 at first; position 0 is never scored: nothing predicts it), using all the tokens
before them in the window as context. Stop after the window that reaches ``N``. Because
``stride < window`` the windows overlap, so every position ``1 ... N - 1`` is scored exactly once,
with at least one token of context; the result is ``exp(total NLL / (N - 1))``.
``ValueError`` unless ``1 <= stride < window`` and ``N >= 2``.
"""
import math

import torch


def perplexity_from_logits(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> float:
    logp = torch.log_softmax(logits.detach()[:, :-1].double(), dim=-1)
    target = labels[:, 1:]
    mask = target != ignore_index
    if int(mask.sum()) == 0:
        raise ValueError("no token to predict (all labels are ignore_index)")
    nll = -logp.gather(-1, torch.where(mask, target, 0).unsqueeze(-1)).squeeze(-1)
    return math.exp(float(nll[mask].sum()) / int(mask.sum()))


def sliding_window_perplexity(model, input_ids: torch.Tensor, window: int, stride: int) -> float:
    ids = torch.as_tensor(input_ids).reshape(-1)
    n = ids.numel()
    if not 1 <= stride < window or n < 2:
        raise ValueError(f"need 1 <= stride < window and at least 2 tokens (stride={stride}, window={window}, N={n})")
    total, count, prev_end = 0.0, 0, 0
    for begin in range(0, n, stride):
        end = min(begin + window, n)
        with torch.no_grad():
            logits = model(ids[None, begin:end]).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        pos = torch.arange(max(prev_end, 1), end)   # the positions no earlier window scored
        total -= float(logp[pos - 1 - begin, ids[pos]].sum())
        count += len(pos)
        prev_end = end
        if end == n:
            break
    return math.exp(total / count)
