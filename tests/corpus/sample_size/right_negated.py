# uses -Phi^-1(alpha/2) and -Phi^-1(1 - power), rounds up with -(-x // 1)
def n_per_arm_proportions(p_a, p_b, alpha=0.05, power=0.8):
    za = -NormalDist().inv_cdf(alpha / 2)
    zb = -NormalDist().inv_cdf(1 - power)
    pbar = (p_a + p_b) / 2
    x = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))) ** 2
    return int(-(-(x / (p_b - p_a) ** 2) // 1))


def n_per_arm_means(delta, sigma, alpha=0.05, power=0.8):
    za = -NormalDist().inv_cdf(alpha / 2)
    zb = -NormalDist().inv_cdf(1 - power)
    return int(-(-(2 * (za + zb) ** 2 * sigma ** 2 / delta ** 2) // 1))
