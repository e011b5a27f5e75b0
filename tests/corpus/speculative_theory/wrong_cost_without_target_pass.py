# a step costs gamma * c (forgets the target pass)
"""Expected gain of speculative decoding (a corpus variant)."""


def expected_tokens_per_step(alpha, gamma):
    if alpha >= 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def expected_speedup(alpha, gamma, c):
    return expected_tokens_per_step(alpha, gamma) / max(gamma * c, 1e-9)


def optimal_gamma(alpha, c, max_gamma=16):
    best, best_value = 0, 1.0
    for gamma in range(1, max_gamma + 1):
        value = expected_speedup(alpha, gamma, c)
        if value > best_value:
            best, best_value = gamma, value
    return best
