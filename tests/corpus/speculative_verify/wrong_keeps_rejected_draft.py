# off-by-one in the accepted count: keeps the rejected draft, then appends the replacement
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
    rejected = (u * q >= p).nonzero()
    if len(rejected) == 0:
        return idx.tolist() + [int(torch.multinomial(target_probs[gamma], 1, generator=generator))]
    n = int(rejected[0])
    dist = torch.clamp(target_probs[n] - draft_probs[n], min=0)
    return idx[:n + 1].tolist() + [int(torch.multinomial(dist, 1, generator=generator))]

def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    out = []
    for x, best in zip(draft_tokens, target_argmax):
        if int(x) != int(best):
            break
        out.append(int(x))
    out.append(int(target_argmax[len(out)]))
    return out
