# Generated from source/lab2_2_inference_optimization/02-Speculative_Decoding.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb02 ---
import math
import os

import torch

# --- cell: speculative_theory ---
"""The expected gain of speculative decoding (Leviathan et al. 2023, section 3).

Model: each draft token is accepted independently with probability ``alpha``; a step proposes
``gamma`` drafts and stops at the first rejection. It always yields one token from the target
(the replacement at the first rejection, or the bonus token after gamma acceptances), plus the
accepted drafts. A draft pass costs ``c`` target passes, so a step costs ``gamma * c + 1`` target
passes where plain decoding produces 1 token per target pass.
"""


def expected_tokens_per_step(alpha: float, gamma: int) -> float:
    """Mean tokens one verify step yields: 1 + alpha + ... + alpha^gamma = (1 - alpha^(gamma+1)) / (1 - alpha).
    alpha = 1 gives gamma + 1."""
    if alpha >= 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def expected_speedup(alpha: float, gamma: int, c: float) -> float:
    """Expected speedup over plain decoding: tokens per step / (gamma * c + 1)."""
    return expected_tokens_per_step(alpha, gamma) / (gamma * c + 1.0)


def optimal_gamma(alpha: float, c: float, max_gamma: int = 16) -> int:
    """The gamma in 1..max_gamma with the largest expected speedup (the smallest such gamma on a tie),
    or 0 (do not speculate) when no gamma gives an expected speedup above 1."""
    best, best_value = 0, 1.0
    for gamma in range(1, max_gamma + 1):
        value = expected_speedup(alpha, gamma, c)
        if value > best_value:
            best, best_value = gamma, value
    return best
