"""A deformable convolution (Dai et al., 2017; v1, no modulation) that torch runs and ONNX exports as ``DeformConv``.

The computation is :func:`torchvision.ops.deform_conv2d`'s, offset layout included: for a ``k x k`` kernel, channel
pair ``2n, 2n + 1`` of ``offset`` is the ``(dy, dx)`` added to tap ``n = row * k + column`` at every output location,
and a tap samples the input bilinearly at ``(y + row - k // 2 + dy, x + column - k // 2 + dx)`` (feature pixels,
zero outside the map). It is written here with :func:`torch.nn.functional.grid_sample` because torchvision's
compiled operators do not load in this project's environment: the ``torchvision`` that PyPI serves for Linux is the
CUDA build, which needs a CUDA torch (``torchvision::deform_conv2d`` "does not exist" next to the CPU torch), and
no CPU build or source archive is on the registries the project can use. Exported (:mod:`garmentcli.models.export`),
the module becomes one ONNX ``DeformConv`` node (opset 19), which onnxruntime's CPU provider runs; torchvision's
own op would need the same symbolic, its exporter registering none for ``deform_conv2d``.
"""

from __future__ import annotations

import math
from typing import Any

from garmentcli.errors import require_torch

torch = require_torch()
nn = torch.nn
F = nn.functional

DEFORM_CONV_OPSET = 19
"""The first ONNX opset with ``DeformConv``."""


def deform_conv2d(features: Any, offset: Any, weight: Any, bias: Any | None = None) -> Any:
    """``(B, C, H, W)`` features sampled at ``(B, 2 k^2, H, W)`` offsets, convolved with ``(O, C, k, k)`` weights:
    stride 1, padding ``k // 2``, output ``(B, O, H, W)``; what ``torchvision.ops.deform_conv2d`` computes for these
    settings."""
    batch, channels, height, width = features.shape
    kernel = weight.shape[-1]
    taps = kernel * kernel
    half = kernel // 2
    rows = torch.arange(kernel, dtype=features.dtype, device=features.device) - half
    grid_y = torch.arange(height, dtype=features.dtype, device=features.device).view(1, 1, height, 1)
    grid_x = torch.arange(width, dtype=features.dtype, device=features.device).view(1, 1, 1, width)
    pairs = offset.reshape(batch, taps, 2, height, width)
    y = grid_y + rows.repeat_interleave(kernel).view(1, taps, 1, 1) + pairs[:, :, 0]
    x = grid_x + rows.repeat(kernel).view(1, taps, 1, 1) + pairs[:, :, 1]
    # grid_sample's normalised coordinates without align_corners: pixel i is at (2 i + 1) / size - 1
    grid = torch.stack([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1], dim=-1)
    sampled = F.grid_sample(
        features,
        grid.reshape(batch, taps * height, width, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    columns = sampled.reshape(batch, channels, taps, height, width).reshape(batch, channels * taps, height, width)
    return F.conv2d(columns, weight.reshape(weight.shape[0], channels * taps, 1, 1), bias)


class _ExportedDeformConv(torch.autograd.Function):
    """:func:`deform_conv2d` as the ONNX exporter sees it: one ``DeformConv`` node."""

    @staticmethod
    def forward(ctx: Any, features: Any, weight: Any, offset: Any, bias: Any) -> Any:
        return deform_conv2d(features, offset, weight, bias)

    @staticmethod
    def symbolic(g: Any, features: Any, weight: Any, offset: Any, bias: Any) -> Any:
        kernel = weight.type().sizes()[-1]
        half = kernel // 2
        return g.op(
            "DeformConv",
            features,
            weight,
            offset,
            bias,
            kernel_shape_i=[kernel, kernel],
            pads_i=[half, half, half, half],
            strides_i=[1, 1],
            dilations_i=[1, 1],
            group_i=1,
            offset_group_i=1,
        )


class DeformConv2d(nn.Module):
    """A ``k x k`` deformable convolution (stride 1, padding ``k // 2``, with bias) whose offsets are an input."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Conv2d's initialisation

    def forward(self, features: Any, offset: Any) -> Any:
        if torch.onnx.is_in_onnx_export():
            return _ExportedDeformConv.apply(features, self.weight, offset, self.bias)
        return deform_conv2d(features, offset, self.weight, self.bias)
