# sort by (latency asc, throughput desc, name) and sweep, keeping exact twins of the last kept point
import math


def pareto_front(results):
    names = set()
    for r in results:
        if not {"name", "latency_ms", "throughput"} <= set(r):
            raise ValueError(f"incomplete result {r!r}")
        for k in ("latency_ms", "throughput"):
            if type(r[k]) not in (int, float) or not math.isfinite(r[k]) or r[k] < 0:
                raise ValueError(f"bad {k} in {r!r}")
        if r["name"] in names:
            raise ValueError(f"duplicate name {r['name']!r}")
        names.add(r["name"])
    out, best, last = [], None, None
    for r in sorted(results, key=lambda r: (r["latency_ms"], -r["throughput"], r["name"])):
        point = (r["latency_ms"], r["throughput"])
        if best is None or r["throughput"] > best or point == last:
            out.append(r["name"])
            best = r["throughput"] if best is None else max(best, r["throughput"])
            last = point
    return out
