# plain Python loops over rows and groups; packing with integer arithmetic on lists
import torch


def quantize_int4_groupwise(w, group_size):
    n = w.shape[-1]
    if group_size <= 0 or n % group_size != 0:
        raise ValueError("bad group size")
    rows = w.detach().to(torch.float32).reshape(-1, n)
    q = torch.empty(rows.shape, dtype=torch.int8)
    scales = torch.empty(rows.shape[0], n // group_size, dtype=torch.float32)
    for r in range(rows.shape[0]):
        for g in range(n // group_size):
            block = rows[r, g * group_size:(g + 1) * group_size]
            m = block.abs().max()
            s = m / 7 if float(m) > 0 else torch.tensor(1.0)
            scales[r, g] = s
            q[r, g * group_size:(g + 1) * group_size] = torch.round(block / s).clamp(-7, 7).to(torch.int8)
    return q.reshape(w.shape), scales.reshape(*w.shape[:-1], n // group_size)


def dequantize_int4_groupwise(q, scales, group_size):
    return q.to(torch.float32) * torch.repeat_interleave(scales.to(torch.float32), group_size, dim=-1)


def pack_int4(q):
    if q.shape[-1] % 2 == 1:
        raise ValueError("odd length")
    flat = [int(v) % 16 for v in q.reshape(-1).tolist()]
    out = [flat[i] + 16 * flat[i + 1] for i in range(0, len(flat), 2)]
    return torch.tensor(out, dtype=torch.uint8).reshape(*q.shape[:-1], q.shape[-1] // 2)


def unpack_int4(packed):
    out = []
    for b in packed.reshape(-1).tolist():
        for nib in (b % 16, b // 16):
            out.append(nib - 16 if nib > 7 else nib)
    return torch.tensor(out, dtype=torch.int8).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
