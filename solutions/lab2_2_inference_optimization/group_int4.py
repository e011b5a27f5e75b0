# Generated from source/lab2_2_inference_optimization/03-Quantization_Inference.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb03 ---
# Imports every exercise of this notebook may use.
import math

import torch

# --- cell: group_int4 ---
"""Group-wise symmetric INT4 quantization of a weight matrix, and packing two INT4 values per byte.

The last dimension of ``w`` (the input features of a Linear weight ``[out, in]``) is cut into
consecutive groups of ``group_size`` columns: group ``j`` of a row holds columns
``j * group_size ... (j + 1) * group_size - 1``. Each group of each row gets its own scale
(all arithmetic in float32; ``round`` is ``torch.round``, half to even):

    scale = max|group| / 7        (1.0 for an all-zero group)
    q     = clamp(round(w / scale), -7, 7)          dequantized: q * scale

``quantize_int4_groupwise(w, group_size) -> (q, scales)``: ``q`` is ``torch.int8`` holding values in
[-7, 7] with the shape of ``w``; ``scales`` is float32 of shape ``w.shape[:-1] + (in // group_size,)``.
``ValueError`` if ``group_size < 1`` or the last dimension is not a multiple of it.
``dequantize_int4_groupwise(q, scales, group_size)`` returns float32 with the shape of ``q``.

Packing (what stores 4 bits per weight): along the last dimension (even length, else ``ValueError``),
element ``2i`` goes to the low nibble and element ``2i + 1`` to the high nibble of byte ``i``, each as its
4-bit two's complement (``v & 0xF``: -1 -> 0xF, -7 -> 0x9). ``pack_int4(q)`` returns ``torch.uint8`` of
shape ``q.shape[:-1] + (q.shape[-1] // 2,)``; ``unpack_int4(packed)`` returns the int8 values (-8..7).
"""
import torch


def quantize_int4_groupwise(w: torch.Tensor, group_size: int):
    if group_size < 1 or w.shape[-1] % group_size:
        raise ValueError(f"last dimension {w.shape[-1]} is not a multiple of group_size {group_size}")
    w = w.detach().float()
    groups = w.reshape(*w.shape[:-1], w.shape[-1] // group_size, group_size)
    amax = groups.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(amax == 0, torch.ones_like(amax), amax / 7)
    q = torch.clamp(torch.round(groups / scale), -7, 7).to(torch.int8)
    return q.reshape(w.shape), scale.squeeze(-1)


def dequantize_int4_groupwise(q: torch.Tensor, scales: torch.Tensor, group_size: int) -> torch.Tensor:
    groups = q.float().reshape(*q.shape[:-1], q.shape[-1] // group_size, group_size)
    return (groups * scales.float().unsqueeze(-1)).reshape(q.shape)


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    if q.shape[-1] % 2:
        raise ValueError("pack_int4 needs an even last dimension")
    nib = q.to(torch.int16) & 0xF
    return (nib[..., 0::2] | (nib[..., 1::2] << 4)).to(torch.uint8)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    b = packed.to(torch.int16)
    low, high = b & 0xF, (b >> 4) & 0xF
    vals = torch.stack([low, high], dim=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
    return torch.where(vals >= 8, vals - 16, vals).to(torch.int8)
