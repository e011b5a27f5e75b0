# Generated from source/lab2_2_inference_optimization/02-Speculative_Decoding.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb02 ---
import math
import os

import torch

# --- cell: speculative_verify ---
"""Speculative decoding: verify a draft model's guesses with one forward pass of the target model.

The draft proposed ``gamma`` tokens x_1..x_gamma, drawing x_i from its distribution q_i; the target
scored the same positions in one pass and gives p_1..p_{gamma+1} (p_{gamma+1} is the target's
distribution after all the drafts). Rows are probability vectors over the vocabulary.

* ``verify_draft`` (sampling): accept x_i with probability min(1, p_i(x_i) / q_i(x_i)); at the first
  rejection, draw the replacement from normalize(max(0, p_i - q_i)) and stop; if every draft is
  accepted, draw a bonus token from p_{gamma+1}. The returned tokens are distributed exactly as if
  the target had sampled them one by one (Leviathan et al. 2023; Chen et al. 2023).
* ``verify_greedy`` (temperature 0): keep the drafts that equal the target's argmax, then append
  the target's own argmax at the first mismatch (or after the last draft).

Randomness: take every random number from ``generator`` (a ``torch.Generator``, or ``None`` for
torch's global generator), e.g. ``torch.rand((), generator=generator)`` for a uniform number and
``torch.multinomial(probs, 1, generator=generator)`` to draw a token. The same generator state
must give the same result.
"""
import torch


def verify_draft(draft_tokens, draft_probs, target_probs, generator=None) -> list[int]:
    """draft_tokens: gamma ints; draft_probs: [gamma, vocab] (q, with q_i(x_i) > 0);
    target_probs: [gamma + 1, vocab] (p). Returns the accepted drafts followed by one
    replacement or bonus token: between 1 and gamma + 1 ints."""
    out = []
    for i, x in enumerate(draft_tokens):
        x = int(x)
        p, q = float(target_probs[i, x]), float(draft_probs[i, x])
        u = float(torch.rand((), dtype=torch.float64, generator=generator))
        if u * q < p:                         # accept with probability min(1, p / q)
            out.append(x)
            continue
        residual = (target_probs[i] - draft_probs[i]).clamp(min=0)
        total = residual.sum()
        if total <= 0:                        # p == q up to rounding: nothing is left over
            residual, total = target_probs[i], target_probs[i].sum()
        out.append(int(torch.multinomial(residual / total, 1, generator=generator)))
        return out
    out.append(int(torch.multinomial(target_probs[len(out)], 1, generator=generator)))   # bonus token
    return out


def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    """draft_tokens: gamma ints; target_argmax: gamma + 1 ints (the target's argmax at each position).
    Returns the drafts up to the first mismatch, then the target's token there: 1..gamma + 1 ints."""
    out = []
    for x, best in zip(draft_tokens, target_argmax):
        if int(x) != int(best):
            break
        out.append(int(x))
    out.append(int(target_argmax[len(out)]))
    return out
