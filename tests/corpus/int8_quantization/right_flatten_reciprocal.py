# movedim + flatten per channel, multiplies by the reciprocal 127 / max|x|; zero-point by the integer grid
import torch


def _stats(x, dim, fn):
    if dim is None:
        return fn(x.reshape(1, -1)).reshape(())
    d = dim % x.dim()
    per = fn(x.movedim(d, 0).reshape(x.shape[d], -1))
    shape = [1] * x.dim()
    shape[d] = x.shape[d]
    return per.reshape(shape)


def absmax_quantize(x, dim=None):
    x = x.detach().to(torch.float32)
    amax = _stats(x.abs(), dim, lambda r: r.max(dim=1).values)
    zero = amax == 0
    scale = torch.where(zero, torch.tensor(1.0), amax / 127.0)
    inv = torch.where(zero, torch.tensor(1.0), 127.0 / torch.where(zero, torch.tensor(1.0), amax))
    q = (x * inv).round().clamp(-127, 127).to(torch.int8)
    return q, scale


def absmax_dequantize(q, scale):
    return q.to(torch.float32) * scale


def zeropoint_quantize(x, dim=None):
    x = x.detach().to(torch.float32)
    lo = _stats(x, dim, lambda r: r.min(dim=1).values).clamp(max=0)
    hi = _stats(x, dim, lambda r: r.max(dim=1).values).clamp(min=0)
    span = hi - lo
    scale = torch.where(span == 0, torch.tensor(1.0), span / 255.0)
    zero_point = (torch.round(-lo / scale) - 128).to(torch.int32)
    q = (torch.round(x / scale) + zero_point.to(torch.float32)).clamp(-128, 127).to(torch.int8)
    return q, scale, zero_point


def zeropoint_dequantize(q, scale, zero_point):
    return (q.to(torch.float32) - zero_point.to(torch.float32)) * scale
