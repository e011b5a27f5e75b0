# Everything through the ridge point and attainable FLOP/s; the time is flops / attainable (or bytes / bw if no flops).
def ridge_point(peak_flops, bandwidth):
    return float(peak_flops) / float(bandwidth)


def attainable_flops(intensity, peak_flops, bandwidth):
    return float(peak_flops) if intensity * bandwidth >= peak_flops else float(intensity * bandwidth)


def bound_by(intensity, peak_flops, bandwidth):
    return "compute" if intensity * bandwidth >= peak_flops else "memory"


def roofline_time(flops, num_bytes, peak_flops, bandwidth):
    t_compute, t_memory = flops / peak_flops, num_bytes / bandwidth
    return t_compute if t_compute >= t_memory else t_memory
