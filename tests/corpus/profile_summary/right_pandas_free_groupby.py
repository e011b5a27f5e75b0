# Sorts the events by name and groups runs with itertools.groupby.
import itertools


def profile_summary(events, k=5):
    if k < 1:
        raise ValueError(f"k={k}")
    evs = sorted(((e["name"], float(e["self_us"])) for e in events), key=lambda t: t[0])
    if any(t < 0 for _, t in evs):
        raise ValueError("negative self time")
    groups = []
    for name, grp in itertools.groupby(evs, key=lambda t: t[0]):
        ts = [t for _, t in grp]
        groups.append((name, sum(ts), len(ts)))
    groups.sort(key=lambda g: (-g[1], g[0]))
    total = sum(g[1] for g in groups)
    head, tail = groups[:k], groups[k:]
    if tail:
        head.append(("other", sum(g[1] for g in tail), sum(g[2] for g in tail)))
    return [{"name": n, "self_us": t, "calls": c, "share": (t / total) if total > 0 else 0.0} for n, t, c in head]
