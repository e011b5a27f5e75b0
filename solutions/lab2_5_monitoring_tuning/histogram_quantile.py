# Generated from source/lab2_5_monitoring_tuning/01-Prometheus_Grafana.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab25_nb01 ---
# Shared by the exercises of this notebook. Kept light.
import math

# Grafana resolves this variable to the Prometheus datasource chosen when the dashboard is imported.
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

# --- cell: histogram_quantile ---
def histogram_quantile(q, buckets):
    """The q-quantile of a classic Prometheus histogram, exactly as PromQL's histogram_quantile.

    buckets: (upper_bound, cumulative_count) pairs in any order, one of them with upper bound math.inf.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged = {}
    for le, count in buckets:                     # coalesce buckets with the same upper bound
        merged[float(le)] = merged.get(float(le), 0.0) + float(count)
    bs = sorted(merged.items())
    if not bs or not math.isinf(bs[-1][0]) or bs[-1][0] < 0:
        return math.nan
    fixed, top = [], -math.inf                      # cumulative counts must not decrease
    for le, count in bs:
        top = max(top, count)
        fixed.append((le, top))
    bs = fixed
    if len(bs) < 2:
        return math.nan
    observations = bs[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(bs) - 1) if bs[i][1] >= rank), len(bs) - 1)
    if b == len(bs) - 1:                            # only the +Inf bucket reaches the rank
        return bs[-2][0]
    if b == 0 and bs[0][0] <= 0:
        return bs[0][0]
    start, end, count = 0.0, bs[b][0], bs[b][1]
    if b > 0:
        start = bs[b - 1][0]
        count -= bs[b - 1][1]
        rank -= bs[b - 1][1]
    if count == 0:                                  # rank 0 in an empty first bucket: 0/0 in Go
        return math.nan
    return start + (end - start) * (rank / count)
