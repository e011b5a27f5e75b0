# Uses numpy minimum / maximum and converts to plain floats.
import numpy as np


def ridge_point(peak_flops, bandwidth):
    if peak_flops <= 0 or bandwidth <= 0:
        raise ValueError("positive numbers please")
    return float(np.float64(peak_flops) / np.float64(bandwidth))


def attainable_flops(intensity, peak_flops, bandwidth):
    return float(np.minimum(peak_flops, intensity * bandwidth))


def bound_by(intensity, peak_flops, bandwidth):
    return ("memory", "compute")[int(not intensity * bandwidth < peak_flops)]


def roofline_time(flops, num_bytes, peak_flops, bandwidth):
    return float(np.maximum(flops / peak_flops, num_bytes / bandwidth))
