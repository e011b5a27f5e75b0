# Vectorised with numpy; percentiles from np.percentile's default (linear) method.
import numpy as np


def percentile(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q))


def throughput_metrics(records):
    if len(records) == 0:
        raise ValueError("empty run")
    prompt = np.array([r["prompt_tokens"] for r in records], dtype=float)
    output = np.array([r["output_tokens"] for r in records], dtype=float)
    start = np.array([r["start"] for r in records], dtype=float)
    end = np.array([r["end"] for r in records], dtype=float)
    if (end < start).any() or (prompt < 0).any() or (output < 0).any():
        raise ValueError("invalid record")
    span = end.max() - start.min()
    if span <= 0:
        raise ValueError("zero span")
    lat = end - start
    p50, p90, p99 = np.percentile(lat, [50, 90, 99])
    return {"num_requests": len(records), "duration_s": float(span),
            "output_tokens_per_s": float(output.sum() / span),
            "total_tokens_per_s": float((output.sum() + prompt.sum()) / span),
            "requests_per_s": len(records) / float(span),
            "latency_mean_s": float(lat.mean()),
            "latency_p50_s": float(p50), "latency_p90_s": float(p90), "latency_p99_s": float(p99)}
