# numpy: reshape into (rows, groups, group_size), reciprocal scale 7 / max|group|; packing with uint8 bit ops
import numpy as np
import torch


def quantize_int4_groupwise(w, group_size):
    a = w.detach().to(torch.float32).numpy()
    if group_size < 1 or a.shape[-1] % group_size:
        raise ValueError(f"{a.shape[-1]} columns cannot be cut into groups of {group_size}")
    g = a.reshape(a.shape[:-1] + (a.shape[-1] // group_size, group_size))
    m = np.abs(g).max(axis=-1)
    scales = np.where(m > 0, m / np.float32(7), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(g / scales[..., None]), -7, 7).astype(np.int8).reshape(a.shape)
    return torch.from_numpy(q), torch.from_numpy(scales)


def dequantize_int4_groupwise(q, scales, group_size):
    a = q.numpy().astype(np.float32)
    g = a.reshape(a.shape[:-1] + (a.shape[-1] // group_size, group_size))
    return torch.from_numpy((g * scales.numpy()[..., None]).reshape(a.shape).astype(np.float32))


def pack_int4(q):
    a = q.numpy()
    if a.shape[-1] % 2:
        raise ValueError("need an even number of values")
    u = a.view(np.uint8) & np.uint8(0x0F)
    return torch.from_numpy((u[..., ::2] | (u[..., 1::2] << np.uint8(4))).astype(np.uint8))


def unpack_int4(packed):
    b = packed.numpy()
    lo = (b & 0x0F).astype(np.int8)
    hi = (b >> 4).astype(np.int8)
    both = np.stack([lo, hi], axis=-1).reshape(b.shape[:-1] + (b.shape[-1] * 2,))
    both = np.where(both > 7, both - 16, both).astype(np.int8)
    return torch.from_numpy(both)
