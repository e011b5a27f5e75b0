# optimal_gamma never tries max_gamma itself
"""Expected gain of speculative decoding (a corpus variant)."""


def expected_tokens_per_step(alpha, gamma):
    if alpha >= 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def expected_speedup(alpha, gamma, c):
    return expected_tokens_per_step(alpha, gamma) / (gamma * c + 1.0)


def optimal_gamma(alpha, c, max_gamma=16):
    best, best_value = 0, 1.0
    for gamma in range(1, max_gamma):
        value = expected_speedup(alpha, gamma, c)
        if value > best_value:
            best, best_value = gamma, value
    return best
