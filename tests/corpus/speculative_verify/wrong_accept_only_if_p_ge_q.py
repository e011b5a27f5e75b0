# accepts a draft only when p(x) >= q(x), deterministically
"""Speculative decoding verify step (a corpus variant)."""
import random

import torch

def verify_draft(draft_tokens, draft_probs, target_probs, generator=None) -> list[int]:
    out = []
    for i, x in enumerate(draft_tokens):
        x = int(x)
        p, q = float(target_probs[i, x]), float(draft_probs[i, x])
        u = float(torch.rand((), dtype=torch.float64, generator=generator))
        if p >= q:
            out.append(x)
            continue
        residual = (target_probs[i] - draft_probs[i]).clamp(min=0)
        total = residual.sum()
        if total <= 0:
            residual, total = target_probs[i], target_probs[i].sum()
        out.append(int(torch.multinomial(residual / total, 1, generator=generator)))
        return out
    out.append(int(torch.multinomial(target_probs[len(out)], 1, generator=generator)))
    return out

def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    out = []
    for x, best in zip(draft_tokens, target_argmax):
        if int(x) != int(best):
            break
        out.append(int(x))
    out.append(int(target_argmax[len(out)]))
    return out
