# uses scipy.stats.norm.ppf
import scipy.stats


def n_per_arm_proportions(p_a, p_b, alpha=0.05, power=0.8):
    za = scipy.stats.norm.ppf(1 - alpha / 2)
    zb = scipy.stats.norm.ppf(power)
    pbar = 0.5 * (p_a + p_b)
    a = za * (2 * pbar * (1 - pbar)) ** 0.5
    b = zb * (p_a * (1 - p_a) + p_b * (1 - p_b)) ** 0.5
    return int(math.ceil(((a + b) / abs(p_a - p_b)) ** 2))


def n_per_arm_means(delta, sigma, alpha=0.05, power=0.8):
    za = scipy.stats.norm.ppf(1 - alpha / 2)
    zb = scipy.stats.norm.ppf(power)
    return int(math.ceil(2 * ((za + zb) * sigma / delta) ** 2))
