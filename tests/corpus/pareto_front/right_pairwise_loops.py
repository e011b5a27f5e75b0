# explicit double loop with a flag, then sorted() with a tuple key
import math


def pareto_front(results):
    seen = []
    for r in results:
        try:
            name, lat, thr = r["name"], r["latency_ms"], r["throughput"]
        except KeyError as exc:
            raise ValueError(f"missing key {exc}") from None
        for v in (lat, thr):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v) or v < 0:
                raise ValueError(f"invalid number {v!r} for {name!r}")
        if name in seen:
            raise ValueError(f"{name!r} appears twice")
        seen.append(name)
    keep = []
    for a in results:
        dominated = False
        for b in results:
            better_or_equal = b["latency_ms"] <= a["latency_ms"] and b["throughput"] >= a["throughput"]
            strictly = b["latency_ms"] != a["latency_ms"] or b["throughput"] != a["throughput"]
            if better_or_equal and strictly:
                dominated = True
                break
        if not dominated:
            keep.append(a)
    return [r["name"] for r in sorted(keep, key=lambda r: (r["latency_ms"], -r["throughput"], r["name"]))]
