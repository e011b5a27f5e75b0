# writes 2 - 2 Phi(x) as erfc(x / sqrt 2)
def obf_spending(t, alpha=0.05):
    if t == 0:
        return 0.0
    c = NormalDist().inv_cdf(1 - alpha / 2)
    return math.erfc(c / math.sqrt(t) / math.sqrt(2))


def spending_thresholds(looks, n_max, alpha=0.05):
    cums = [obf_spending(n / n_max, alpha) for n in looks]
    return [c - p for c, p in zip(cums, [0.0] + cums[:-1])]
