# truncates the means formula with int()
def n_per_arm_proportions(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Requests per arm for a two-sided two-proportion z-test to detect p_a vs p_b.

    z_a = Phi^-1(1 - alpha/2), z_b = Phi^-1(power), pbar = (p_a + p_b) / 2
    n = ceil( (z_a * sqrt(2 * pbar * (1 - pbar)) + z_b * sqrt(p_a*(1-p_a) + p_b*(1-p_b)))^2 / (p_a - p_b)^2 )
    """
    z_a = Z.inv_cdf(1 - alpha / 2)
    z_b = Z.inv_cdf(power)
    pbar = (p_a + p_b) / 2
    num = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(num ** 2 / (p_a - p_b) ** 2)


def n_per_arm_means(delta: float, sigma: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Samples per arm for a two-sided z-test of a difference in means delta, common std sigma.

    n = ceil( 2 * (z_a + z_b)^2 * sigma^2 / delta^2 ), z_a and z_b as above
    """
    z_a = Z.inv_cdf(1 - alpha / 2)
    z_b = Z.inv_cdf(power)
    return int(2 * (z_a + z_b) ** 2 * sigma ** 2 / delta ** 2)
