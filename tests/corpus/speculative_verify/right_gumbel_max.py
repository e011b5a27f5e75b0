# accepts with torch.bernoulli(min(1, p/q)); samples by the Gumbel-max trick (vocab-sized uniforms)
"""Speculative decoding verify step (a corpus variant)."""
import random

import torch

def _gumbel_sample(probs, generator):
    u = torch.rand(probs.shape, dtype=torch.float64, generator=generator).clamp_min(1e-300)
    scores = torch.log(probs.double()) - torch.log(-torch.log(u))
    return int(torch.argmax(scores))


def verify_draft(draft_tokens, draft_probs, target_probs, generator=None):
    out = []
    for i, x in enumerate(draft_tokens):
        a = min(1.0, float(target_probs[i][x]) / float(draft_probs[i][x]))
        if torch.bernoulli(torch.tensor(a, dtype=torch.float64), generator=generator).item() == 1:
            out.append(int(x))
            continue
        residual = (target_probs[i] - draft_probs[i]).clamp_min(0)
        if float(residual.sum()) <= 0:
            residual = target_probs[i]
        out.append(_gumbel_sample(residual / residual.sum(), generator))
        return out
    out.append(_gumbel_sample(target_probs[len(draft_tokens)], generator))
    return out

def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    out = []
    for x, best in zip(draft_tokens, target_argmax):
        if int(x) != int(best):
            break
        out.append(int(x))
    out.append(int(target_argmax[len(out)]))
    return out
