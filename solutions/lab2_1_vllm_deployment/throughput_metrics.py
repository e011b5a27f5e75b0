# Generated from source/lab2_1_vllm_deployment/02-Basic_Inference.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_nb02 ---
# Shared by the exercises of this notebook. Kept light: no torch, no vLLM, no model loading here.
import math

# --- cell: throughput_metrics ---
def percentile(values, q):
    """The q-th percentile (0 <= q <= 100) of `values` by linear interpolation.

    numpy's default (`np.percentile(values, q)`, method="linear", Hyndman & Fan type 7): sort the m values
    into v[0] <= ... <= v[m-1]; the percentile sits at position k = (m - 1) * q / 100 and is
    v[floor(k)] + (k - floor(k)) * (v[floor(k) + 1] - v[floor(k)]).
    """
    if not values:
        raise ValueError("percentile of an empty list")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    v = sorted(values)
    k = (len(v) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (k - lo) * (v[hi] - v[lo])


def throughput_metrics(records):
    """Throughput and latency of a finished run of requests.

    `records`: a non-empty list of dicts, one per request, with keys
        "prompt_tokens" (int >= 0), "output_tokens" (int >= 0, generated tokens only),
        "start" and "end" (seconds, float, from the same clock; end >= start).
    Returns a dict of floats:
        "num_requests", "duration_s"      wall-clock span: max(end) - min(start)
        "output_tokens_per_s"             sum(output_tokens) / duration_s
        "total_tokens_per_s"              sum(prompt_tokens + output_tokens) / duration_s
        "requests_per_s"                  num_requests / duration_s
        "latency_mean_s", "latency_p50_s", "latency_p90_s", "latency_p99_s"
                                          of the per-request latencies end - start, percentiles by
                                          linear interpolation (`percentile` above)
    Raises ValueError for an empty list, end < start, negative token counts, or a zero span.
    Does not modify `records`.
    """
    if not records:
        raise ValueError("no requests")
    for i, r in enumerate(records):
        if r["end"] < r["start"]:
            raise ValueError(f"request {i} ends ({r['end']}) before it starts ({r['start']})")
        if r["prompt_tokens"] < 0 or r["output_tokens"] < 0:
            raise ValueError(f"request {i} has a negative token count")
    duration = max(r["end"] for r in records) - min(r["start"] for r in records)
    if duration <= 0:
        raise ValueError("the requests span zero wall-clock time: throughput is undefined")
    out_tokens = sum(r["output_tokens"] for r in records)
    all_tokens = out_tokens + sum(r["prompt_tokens"] for r in records)
    latencies = [r["end"] - r["start"] for r in records]
    n = len(records)
    return {
        "num_requests": float(n),
        "duration_s": float(duration),
        "output_tokens_per_s": out_tokens / duration,
        "total_tokens_per_s": all_tokens / duration,
        "requests_per_s": n / duration,
        "latency_mean_s": sum(latencies) / n,
        "latency_p50_s": float(percentile(latencies, 50)),
        "latency_p90_s": float(percentile(latencies, 90)),
        "latency_p99_s": float(percentile(latencies, 99)),
    }
