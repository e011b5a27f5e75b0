# Generated from source/lab2_5_monitoring_tuning/02-Bottleneck_Analysis.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab25_nb02 ---
# Shared by the exercises of this notebook. Kept light: no torch, no model loading here.
import math

from labkit.models import PRESETS, get_preset

# --- cell: profile_summary ---
def profile_summary(events, k=5):
    """Aggregate profiler events by name: the k names with most self time, then one 'other' row."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    totals, calls = {}, {}
    for ev in events:
        name, us = ev["name"], float(ev["self_us"])
        if us < 0:
            raise ValueError(f"event {name!r} has negative self time {us}")
        totals[name] = totals.get(name, 0.0) + us
        calls[name] = calls.get(name, 0) + 1
    total = sum(totals.values())
    share = (lambda us: us / total) if total > 0 else (lambda us: 0.0)
    ranked = sorted(totals, key=lambda n: (-totals[n], n))
    rows = [{"name": n, "self_us": totals[n], "calls": calls[n], "share": share(totals[n])} for n in ranked[:k]]
    rest = ranked[k:]
    if rest:
        us = sum(totals[n] for n in rest)
        rows.append({"name": "other", "self_us": us, "calls": sum(calls[n] for n in rest), "share": share(us)})
    return rows
