# draws all gamma uniforms up front, finds the first rejection with tensor ops, samples with multinomial
"""Speculative decoding verify step (a corpus variant)."""
import random

import torch

def verify_draft(draft_tokens, draft_probs, target_probs, generator=None):
    gamma = len(draft_tokens)
    idx = torch.as_tensor(list(draft_tokens), dtype=torch.long)
    rows = torch.arange(gamma)
    p = target_probs[:gamma][rows, idx]
    q = draft_probs[rows, idx]
    u = torch.rand(gamma, dtype=p.dtype, generator=generator)
    accept = u < torch.clamp(p / q, max=1.0)
    rejected = (~accept).nonzero()
    n = int(rejected[0]) if len(rejected) else gamma
    if n == gamma:
        dist = target_probs[gamma]
    else:
        dist = torch.clamp(target_probs[n] - draft_probs[n], min=0)
        if float(dist.sum()) <= 0:
            dist = target_probs[n]
    last = torch.multinomial(dist.double(), 1, generator=generator).item()
    return [int(t) for t in idx[:n].tolist()] + [int(last)]

def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    out = []
    for x, best in zip(draft_tokens, target_argmax):
        if int(x) != int(best):
            break
        out.append(int(x))
    out.append(int(target_argmax[len(out)]))
    return out
