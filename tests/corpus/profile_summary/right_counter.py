# collections.Counter for times and calls; 'other' built from the remaining names.
from collections import Counter


def profile_summary(events, k=5):
    if k < 1:
        raise ValueError("k must be positive")
    us, calls = Counter(), Counter()
    for e in events:
        if e["self_us"] < 0:
            raise ValueError("negative self time")
        us[e["name"]] += e["self_us"]
        calls[e["name"]] += 1
    total = sum(us.values())
    names = sorted(us, key=lambda n: (-us[n], n))
    out = []
    for n in names[:k]:
        out.append({"name": n, "self_us": us[n], "calls": calls[n], "share": us[n] / total if total else 0.0})
    if len(names) > k:
        o = sum(us[n] for n in names[k:])
        out.append({"name": "other", "self_us": o, "calls": sum(calls[n] for n in names[k:]),
                    "share": o / total if total else 0.0})
    return out
