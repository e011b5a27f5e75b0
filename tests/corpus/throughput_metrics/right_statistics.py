# Uses statistics.quantiles(method="inclusive"), which is the same linear interpolation (type 7); one pass over records.
import statistics


def percentile(values, q):
    raise NotImplementedError  # not needed: throughput_metrics uses statistics.quantiles


def throughput_metrics(records):
    records = list(records)
    if not records:
        raise ValueError("no records")
    first = min(r["start"] for r in records)
    last = max(r["end"] for r in records)
    out_tokens = prompt_tokens = 0
    lat = []
    for r in records:
        if r["end"] - r["start"] < 0:
            raise ValueError("end before start")
        if min(r["prompt_tokens"], r["output_tokens"]) < 0:
            raise ValueError("negative tokens")
        out_tokens += r["output_tokens"]
        prompt_tokens += r["prompt_tokens"]
        lat.append(r["end"] - r["start"])
    span = last - first
    if not span > 0:
        raise ValueError("no time elapsed")
    if len(lat) == 1:
        cuts = [lat[0]] * 99
    else:
        cuts = statistics.quantiles(lat, n=100, method="inclusive")
    return {"num_requests": len(records), "duration_s": span, "output_tokens_per_s": out_tokens / span,
            "total_tokens_per_s": (out_tokens + prompt_tokens) / span, "requests_per_s": len(records) / span,
            "latency_mean_s": statistics.fmean(lat), "latency_p50_s": cuts[49], "latency_p90_s": cuts[89],
            "latency_p99_s": cuts[98]}
