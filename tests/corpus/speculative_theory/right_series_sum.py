# sums the series 1 + alpha + ... + alpha^gamma; optimal gamma by max() over a dict
"""Expected gain of speculative decoding (a corpus variant)."""


def expected_tokens_per_step(alpha, gamma):
    return sum(alpha ** i for i in range(gamma + 1))


def expected_speedup(alpha, gamma, c):
    return expected_tokens_per_step(alpha, gamma) / (1 + gamma * c)


def optimal_gamma(alpha, c, max_gamma=16):
    values = {g: expected_speedup(alpha, g, c) for g in range(1, max_gamma + 1)}
    best = max(values, key=lambda g: (values[g], -g))
    return best if values[best] > 1 else 0
