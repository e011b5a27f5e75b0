# Adds compute and memory time instead of taking the slower one.
def ridge_point(peak_flops, bandwidth):
    """Arithmetic intensity (FLOP/byte) where the roofline turns from slanted to flat."""
    if peak_flops <= 0 or bandwidth <= 0:
        raise ValueError("peak_flops and bandwidth must be positive")
    return peak_flops / bandwidth


def attainable_flops(intensity, peak_flops, bandwidth):
    """Roofline: the FLOP/s a kernel of this arithmetic intensity can reach at best."""
    if intensity < 0 or peak_flops <= 0 or bandwidth <= 0:
        raise ValueError("intensity must be >= 0, peak_flops and bandwidth > 0")
    return min(peak_flops, intensity * bandwidth)


def bound_by(intensity, peak_flops, bandwidth):
    """'memory' if the kernel sits left of the ridge point, else 'compute' (the ridge itself: 'compute')."""
    return "memory" if intensity * bandwidth < peak_flops else "compute"


def roofline_time(flops, num_bytes, peak_flops, bandwidth):
    """Lower bound of the time of a step: max(compute time, memory time), in seconds."""
    if flops < 0 or num_bytes < 0 or peak_flops <= 0 or bandwidth <= 0:
        raise ValueError("flops and bytes must be >= 0, peak_flops and bandwidth > 0")
    return flops / peak_flops + num_bytes / bandwidth
