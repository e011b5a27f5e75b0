# vectorised with numpy
import numpy as np


def goodput(requests, duration_s, ttft_slo_s, tpot_slo_s):
    if duration_s <= 0:
        raise ValueError("duration_s must be > 0")
    fin = [r for r in requests if r["first_token_time"] is not None and r["finish_time"] is not None]
    if not fin:
        return 0.0
    arr = np.array([r["arrival"] for r in fin], dtype=float)
    first = np.array([r["first_token_time"] for r in fin], dtype=float)
    end = np.array([r["finish_time"] for r in fin], dtype=float)
    n = np.array([r["num_output_tokens"] for r in fin], dtype=float)
    tpot = np.where(n >= 2, (end - first) / np.maximum(n - 1, 1), 0.0)
    good = (first - arr <= ttft_slo_s) & ((n < 2) | (tpot <= tpot_slo_s))
    return float(good.sum()) / duration_s
