# Generated from source/lab2_2_inference_optimization/03-Quantization_Inference.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb03 ---
# Imports every exercise of this notebook may use.
import math

import torch

# --- cell: int8_quantization ---
"""INT8 quantization of a tensor: absmax (symmetric) and zero-point (asymmetric).

Both work per tensor (``dim=None``: one scale for the whole tensor, a 0-d tensor) or per channel
(``dim=d``: one scale per index along dimension ``d``, the maximum taken over all the *other*
dimensions; scales keep size 1 in those dimensions so they broadcast against ``x``: a weight
``[out, in]`` with ``dim=0`` gets scales of shape ``[out, 1]``). Negative ``dim`` counts from the end.

Exact rules (all arithmetic in float32; ``round`` is ``torch.round``: half to even):

* absmax:     ``scale = max|x| / 127``, ``q = clamp(round(x / scale), -127, 127)``,
              dequantized ``q * scale``.
* zero-point: the range is first widened to contain 0: ``lo = min(min(x), 0)``, ``hi = max(max(x), 0)``;
              ``scale = (hi - lo) / 255``, ``zero_point = -128 - round(lo / scale)`` (an integer in
              [-128, 127]), ``q = clamp(round(x / scale) + zero_point, -128, 127)``,
              dequantized ``(q - zero_point) * scale``.
* A slice that is all zeros gets ``scale = 1.0`` (and ``zero_point = -128``), so it quantizes to
  ``q = 0`` (absmax) / ``q = zero_point`` (zero-point) and dequantizes to exact zeros.

Types: ``q`` is ``torch.int8`` with the shape of ``x``; ``scale`` is float32; ``zero_point`` is
``torch.int32`` with the shape of ``scale``; dequantized tensors are float32 with the shape of ``x``.
Inputs are never modified.
"""
import torch


def absmax_quantize(x: torch.Tensor, dim=None):
    """Symmetric INT8: returns (q int8, scale float32)."""
    x = x.detach().float()
    if dim is None:
        amax = x.abs().amax()
    else:
        others = [d for d in range(x.dim()) if d != dim % x.dim()]
        amax = x.abs().amax(dim=others, keepdim=True) if others else x.abs()
    scale = amax / 127
    scale = torch.where(amax == 0, torch.ones_like(scale), scale)
    q = torch.clamp(torch.round(x / scale), -127, 127).to(torch.int8)
    return q, scale


def absmax_dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """q * scale, as float32."""
    return q.float() * scale.float()


def zeropoint_quantize(x: torch.Tensor, dim=None):
    """Asymmetric INT8: returns (q int8, scale float32, zero_point int32)."""
    x = x.detach().float()
    if dim is None:
        lo, hi = x.amin(), x.amax()
    else:
        others = [d for d in range(x.dim()) if d != dim % x.dim()]
        lo = x.amin(dim=others, keepdim=True) if others else x.clone()
        hi = x.amax(dim=others, keepdim=True) if others else x.clone()
    lo, hi = torch.clamp(lo, max=0.0), torch.clamp(hi, min=0.0)
    scale = (hi - lo) / 255
    scale = torch.where(hi == lo, torch.ones_like(scale), scale)
    zero_point = (-128 - torch.round(lo / scale)).to(torch.int32)
    q = torch.clamp(torch.round(x / scale) + zero_point, -128, 127).to(torch.int8)
    return q, scale, zero_point


def zeropoint_dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """(q - zero_point) * scale, as float32."""
    return (q.to(torch.int32) - zero_point).float() * scale.float()
