"""Speculative decoding: verify a draft model's guesses with one pass of the target model.

The draft proposes gamma tokens x_1..x_gamma, drawn from its distributions q_1..q_gamma; the target
scores the same positions in one forward pass, giving p_1..p_{gamma+1}. Accepting x_i with
probability min(1, p_i(x_i) / q_i(x_i)) and, at the first rejection, drawing from
normalize(max(0, p_i - q_i)) yields tokens distributed exactly as the target alone would
(Leviathan et al. 2023, Chen et al. 2023). If every guess is accepted, p_{gamma+1} gives a bonus token.
"""
import torch


def _sample(probs: torch.Tensor, generator=None) -> int:
    return int(torch.multinomial(probs, 1, generator=generator))


def verify_draft(draft_tokens, draft_probs, target_probs, generator=None) -> list[int]:
    """draft_probs: [gamma, vocab] (q); target_probs: [gamma + 1, vocab] (p). Returns 1..gamma+1 tokens."""
    accepted = []
    for i, token in enumerate(draft_tokens):
        token = int(token)
        p, q = target_probs[i, token], draft_probs[i, token]
        u = torch.rand((), generator=generator, device=target_probs.device)
        if u * q < p:                               # accept with probability min(1, p / q)
            accepted.append(token)
            continue
        residual = (target_probs[i] - draft_probs[i]).clamp(min=0)
        if residual.sum() <= 0:                     # p == q up to rounding: nothing left over
            residual = target_probs[i]
        accepted.append(_sample(residual / residual.sum(), generator))
        return accepted
    accepted.append(_sample(target_probs[len(draft_tokens)], generator))  # bonus token
    return accepted


def verify_greedy(draft_tokens, target_argmax) -> list[int]:
    """Temperature 0: keep the guesses that match the target's argmax, then the target's own token."""
    accepted = []
    for token, best in zip(draft_tokens, target_argmax):
        if int(token) != int(best):
            break
        accepted.append(int(token))
    accepted.append(int(target_argmax[len(accepted)]))
    return accepted


def expected_tokens_per_step(alpha: float, gamma: int) -> float:
    """Tokens one verify step yields when each guess is accepted with probability alpha."""
    if alpha >= 1.0:
        return gamma + 1.0
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


def expected_speedup(alpha: float, gamma: int, c: float) -> float:
    """Over plain decoding, when a draft step costs c target steps: gamma draft steps + 1 target step."""
    return expected_tokens_per_step(alpha, gamma) / (gamma * c + 1)
