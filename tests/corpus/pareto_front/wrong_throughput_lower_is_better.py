# treats throughput as lower-is-better (inverted axis)
def pareto_front(results):
    """Names of the configurations no other configuration beats on both latency and throughput.

    `results`: a list of dicts with "name" (str), "latency_ms" (number >= 0, lower is better) and
    "throughput" (number >= 0, higher is better). `b` dominates `a` when b.latency_ms <= a.latency_ms and
    b.throughput >= a.throughput and at least one of the two is strictly better. Returns the names of the
    non-dominated entries sorted by latency_ms ascending (ties: throughput descending, then name).
    Raises ValueError on a missing key, a negative or non-finite number, or a duplicate name.
    """
    seen = set()
    for r in results:
        for key in ("name", "latency_ms", "throughput"):
            if key not in r:
                raise ValueError(f"result {r!r} has no {key!r}")
        for key in ("latency_ms", "throughput"):
            v = r[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{key} of {r['name']!r} must be a finite number >= 0, got {v!r}")
        if r["name"] in seen:
            raise ValueError(f"duplicate name {r['name']!r}")
        seen.add(r["name"])

    def dominates(b, a):
        return (b["latency_ms"] <= a["latency_ms"] and b["throughput"] <= a["throughput"]
                and (b["latency_ms"] < a["latency_ms"] or b["throughput"] < a["throughput"]))

    front = [a for a in results if not any(dominates(b, a) for b in results)]
    front.sort(key=lambda r: (r["latency_ms"], -r["throughput"], r["name"]))
    return [r["name"] for r in front]
