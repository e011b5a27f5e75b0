# optimal_gamma returns the best gamma even when it loses to plain decoding
"""Expected gain of speculative decoding (a corpus variant)."""


def expected_tokens_per_step(alpha, gamma):
    if alpha >= 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def expected_speedup(alpha, gamma, c):
    return expected_tokens_per_step(alpha, gamma) / (gamma * c + 1.0)


def optimal_gamma(alpha, c, max_gamma=16):
    best, best_value = 1, expected_speedup(alpha, 1, c)
    for gamma in range(1, max_gamma + 1):
        value = expected_speedup(alpha, gamma, c)
        if value > best_value:
            best, best_value = gamma, value
    return best
