# pure Python: interpolation written as a weighted average of the two neighbours; TPOT as the mean gap
import statistics


def request_latency(arrival, token_times):
    times = list(token_times)
    if len(times) == 0:
        raise ValueError("empty token_times")
    prev = arrival
    for t in times:
        if t < prev:
            raise ValueError("timestamps must not go back in time")
        prev = t
    gaps = [times[i] - times[i - 1] for i in range(1, len(times))]
    ttft = times[0] - arrival
    return {"ttft": ttft, "e2e": times[-1] - arrival, "itl": gaps,
            "tpot": sum(gaps) / len(gaps) if gaps else None}


def percentile(values, q):
    xs = sorted(values)
    if not xs:
        raise ValueError("empty")
    if len(xs) == 1 or q == 0:
        return float(xs[0])
    if q == 100:
        return float(xs[-1])
    pos = (len(xs) - 1) * q / 100
    i = int(pos)
    frac = pos - i
    return float(xs[i] * (1 - frac) + xs[i + 1] * frac) if frac else float(xs[i])


def latency_summary(requests):
    if not requests:
        raise ValueError("no requests")
    per = [request_latency(a, t) for a, t in requests]
    series = {"ttft": [p["ttft"] for p in per], "tpot": [p["tpot"] for p in per if p["tpot"] is not None],
              "itl": [g for p in per for g in p["itl"]], "e2e": [p["e2e"] for p in per]}
    return {k: ({f"p{q}": percentile(v, q) for q in (50, 90, 99)} if v else None) for k, v in series.items()}
