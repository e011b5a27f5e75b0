# closed form with numpy and an isclose guard at alpha = 1; numpy argmax
"""Expected gain of speculative decoding (a corpus variant)."""

import numpy as np


def expected_tokens_per_step(alpha, gamma):
    if np.isclose(alpha, 1.0, rtol=0, atol=1e-15):
        return gamma + 1.0
    return float((1 - np.power(alpha, gamma + 1)) / (1 - alpha))


def expected_speedup(alpha, gamma, c):
    return float(expected_tokens_per_step(alpha, gamma) / (gamma * c + 1))


def optimal_gamma(alpha, c, max_gamma=16):
    values = np.array([expected_speedup(alpha, g, c) for g in range(1, max_gamma + 1)])
    i = int(np.argmax(values))
    return i + 1 if values[i] > 1 else 0
