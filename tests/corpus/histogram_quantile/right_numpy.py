# numpy: unique bounds with summed counts, maximum.accumulate, searchsorted; returns a plain float.
import numpy as np


def histogram_quantile(q, buckets):
    if np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    if not buckets:
        return float("nan")
    le = np.array([b[0] for b in buckets], dtype=float)
    cnt = np.array([b[1] for b in buckets], dtype=float)
    bounds, inv = np.unique(le, return_inverse=True)
    counts = np.zeros(len(bounds))
    np.add.at(counts, inv, cnt)
    if len(bounds) < 2 or not np.isposinf(bounds[-1]):
        return float("nan")
    counts = np.maximum.accumulate(counts)
    if counts[-1] == 0:
        return float("nan")
    rank = q * counts[-1]
    b = int(np.searchsorted(counts[:-1], rank, side="left"))
    if b == len(bounds) - 1:
        return float(bounds[-2])
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    start = bounds[b - 1] if b > 0 else 0.0
    below = counts[b - 1] if b > 0 else 0.0
    n = counts[b] - below
    if n == 0:
        return float("nan")
    return float(start + (bounds[b] - start) * ((rank - below) / n))
