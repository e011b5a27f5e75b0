# numpy implementation: per channel by moving dim to the front and reducing each row; np.round is half to even
import numpy as np
import torch


def _rows(a, dim):
    # (2-D view with one row per channel, function mapping a per-row vector back to the keepdim shape)
    if dim is None:
        return a.reshape(1, -1), lambda v: np.asarray(v[0])
    d = dim % a.ndim
    moved = np.moveaxis(a, d, 0)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    return moved.reshape(a.shape[d], -1), lambda v: v.reshape(shape)


def absmax_quantize(x, dim=None):
    a = x.detach().to(torch.float32).numpy()
    rows, back = _rows(a, dim)
    amax = np.abs(rows).max(axis=1)
    scale = np.where(amax == 0, np.float32(1.0), amax / np.float32(127)).astype(np.float32)
    scale = back(scale)
    q = np.clip(np.round(a / scale), -127, 127).astype(np.int8)
    return torch.from_numpy(q), torch.from_numpy(np.array(scale, dtype=np.float32))


def absmax_dequantize(q, scale):
    return torch.from_numpy(q.numpy().astype(np.float32) * scale.numpy().astype(np.float32))


def zeropoint_quantize(x, dim=None):
    a = x.detach().to(torch.float32).numpy()
    rows, back = _rows(a, dim)
    lo = np.minimum(rows.min(axis=1), 0).astype(np.float32)
    hi = np.maximum(rows.max(axis=1), 0).astype(np.float32)
    scale = np.where(hi == lo, np.float32(1.0), (hi - lo) / np.float32(255)).astype(np.float32)
    zp = (-128 - np.round(lo / scale)).astype(np.int32)
    scale, zp = back(scale), back(zp)
    q = np.clip(np.round(a / scale) + zp, -128, 127).astype(np.int8)
    return (torch.from_numpy(q), torch.from_numpy(np.array(scale, dtype=np.float32)),
            torch.from_numpy(np.array(zp, dtype=np.int32)))


def zeropoint_dequantize(q, scale, zero_point):
    return torch.from_numpy(((q.numpy().astype(np.int32) - zero_point.numpy()) * scale.numpy()).astype(np.float32))
