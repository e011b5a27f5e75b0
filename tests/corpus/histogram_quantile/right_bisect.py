# bisect on the cumulative counts; defaultdict to merge equal bounds; itertools.accumulate(max) for monotonicity.
import bisect
import itertools
from collections import defaultdict


def histogram_quantile(q, buckets):
    if q != q:
        return float("nan")
    if q < 0 or q > 1:
        return float("-inf") if q < 0 else float("inf")
    acc = defaultdict(float)
    for le, c in buckets:
        acc[float(le)] += c
    les = sorted(acc)
    if not les or les[-1] != float("inf") or len(les) < 2:
        return float("nan")
    counts = list(itertools.accumulate((acc[le] for le in les), max))
    total = counts[-1]
    if total == 0:
        return float("nan")
    rank = q * total
    b = bisect.bisect_left(counts, rank, 0, len(les) - 1)
    if b == len(les) - 1:
        return les[-2]
    if b == 0 and les[0] <= 0:
        return les[0]
    lo, below = (les[b - 1], counts[b - 1]) if b else (0.0, 0.0)
    inside = counts[b] - below
    if inside == 0:
        return float("nan")
    return lo + (les[b] - lo) * (rank - below) / inside
