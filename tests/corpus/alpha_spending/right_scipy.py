# uses scipy.stats.norm and numpy.diff
import numpy as np
import scipy.stats


def obf_spending(t, alpha=0.05):
    if t <= 0:
        return 0.0
    return float(2 * scipy.stats.norm.sf(scipy.stats.norm.ppf(1 - alpha / 2) / np.sqrt(t)))


def spending_thresholds(looks, n_max, alpha=0.05):
    cum = [0.0] + [obf_spending(n / n_max, alpha) for n in looks]
    return [float(x) for x in np.diff(cum)]
