# accepts when u < p/q (u of shape (1,)), draws the replacement and the bonus by inverse CDF (searchsorted)
"""Speculative decoding verify step (a corpus variant)."""
import random

import torch

def _inverse_cdf(probs, generator):
    probs = probs.double()
    cdf = torch.cumsum(probs / probs.sum(), 0)
    u = torch.rand(1, dtype=torch.float64, generator=generator)
    return int(torch.searchsorted(cdf, u, right=True).clamp(max=len(probs) - 1))


def verify_draft(draft_tokens, draft_probs, target_probs, generator=None):
    accepted = []
    for i, x in enumerate(draft_tokens):
        ratio = target_probs[i, x] / draft_probs[i, x]
        if torch.rand(1, generator=generator).item() < ratio.item():
            accepted.append(x)
        else:
            residual = torch.relu(target_probs[i] - draft_probs[i])
            if residual.sum() == 0:
                residual = target_probs[i]
            return accepted + [_inverse_cdf(residual, generator)]
    return accepted + [_inverse_cdf(target_probs[-1], generator)]

def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    out = []
    for x, best in zip(draft_tokens, target_argmax):
        if int(x) != int(best):
            break
        out.append(int(x))
    out.append(int(target_argmax[len(out)]))
    return out
