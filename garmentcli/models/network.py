"""The one-stage garment network: a small inverted-residual backbone, a feature pyramid, stride-4 heads.

CenterNet as DeepMark++ uses it: every garment is a peak in its category's centre heatmap;
at that peak the network predicts the sub-pixel centre offset, the box size, and for every
semantic landmark group the displacement from the centre to the landmark. Separately it
predicts one heatmap per semantic group (plus a sub-pixel offset per group) that the decoder
uses to refine the regressed landmarks. All sizes and displacements are in output-grid units
(input pixels / 4). torch is imported lazily: this module is only imported by code that needs it.
"""

from __future__ import annotations

import math
from typing import Any

from garmentcli.errors import require_torch
from garmentcli.models.config import HEAD_NAMES, ModelConfig

torch = require_torch()
nn = torch.nn

HEATMAP_HEADS = ("center_heatmap", "landmark_heatmap")
"""Heads whose raw outputs are logits (sigmoid gives the heatmap); the others are linear."""

INPUT_MEAN_BGR = (103.53, 116.28, 123.675)
INPUT_STD_BGR = (57.375, 57.12, 58.395)
"""The network normalises its own input: it takes float BGR in 0..255 (ImageNet statistics)."""

HEATMAP_PRIOR = 0.01
"""Initial heatmap probability (CenterNet's bias initialisation, for a stable focal loss)."""


def head_channels(config: ModelConfig) -> dict[str, int]:
    """Number of output channels of every head for ``config``."""
    groups = config.num_groups
    channels = (config.num_categories, 2, 2, 2 * groups, groups, 2 * groups)
    return dict(zip(HEAD_NAMES, channels, strict=True))


def _conv_bn(c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> Any:
    layers = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (stride 1 or 2), 1x1 project, residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.body = nn.Sequential(
            _conv_bn(c_in, hidden),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn(hidden, c_out, act=False),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Any) -> Any:
        out = self.body(x)
        return x + out if self.residual else out


class SeparableConv(nn.Module):
    """3x3 depthwise then 1x1 pointwise, each with batch norm and ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(c_in, c_in, 3, groups=c_in), _conv_bn(c_in, c_out))

    def forward(self, x: Any) -> Any:
        return self.body(x)


class GarmentNet(nn.Module):
    """Backbone (strides 4–32) + top-down feature pyramid fused at stride 4 + one small head per output."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.width * 2**i for i in range(4)]
        self.register_buffer("mean", torch.tensor(INPUT_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(INPUT_STD_BGR).view(1, 3, 1, 1), persistent=False)
        self.stem = nn.Sequential(_conv_bn(3, widths[0] // 2, 3, 2), _conv_bn(widths[0] // 2, widths[0], 3, 2))
        stages = []
        for i, (width, blocks) in enumerate(zip(widths, config.depth, strict=True)):
            layers = [] if i == 0 else [InvertedResidual(widths[i - 1], width, 2, config.expansion)]
            layers += [InvertedResidual(width, width, 1, config.expansion) for _ in range(blocks)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        neck = config.neck_channels
        self.laterals = nn.ModuleList(_conv_bn(width, neck) for width in widths)
        self.smooth = nn.ModuleList(SeparableConv(neck, neck) for _ in widths[:-1])
        self.heads = nn.ModuleDict()
        for name, channels in head_channels(config).items():
            hidden = config.head_channels
            head = nn.Sequential(SeparableConv(neck, hidden), nn.Conv2d(hidden, channels, 1))
            if name in HEATMAP_HEADS:
                nn.init.constant_(head[-1].bias, -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR))
            self.heads[name] = head

    def forward(self, images: Any) -> dict[str, Any]:
        """``images`` float (B, 3, H, W) BGR 0..255 -> raw head outputs (heatmaps as logits), stride 4."""
        x = self.stem((images - self.mean) * self.inv_std)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        top = self.laterals[-1](features[-1])
        for level in range(len(features) - 2, -1, -1):
            lateral = self.laterals[level](features[level])
            top = self.smooth[level](lateral + nn.functional.interpolate(top, size=lateral.shape[-2:], mode="nearest"))
        return {name: head(top) for name, head in self.heads.items()}


class InferenceNetwork(nn.Module):
    """The deployed graph: heatmap logits through a sigmoid, outputs as a tuple in :data:`HEAD_NAMES` order.

    ONNX export and the torch backend both run this wrapper, so they compute the same thing.
    """

    def __init__(self, network: GarmentNet) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: Any) -> tuple[Any, ...]:
        outputs = self.network(images)
        return tuple(torch.sigmoid(outputs[name]) if name in HEATMAP_HEADS else outputs[name] for name in HEAD_NAMES)


def fuse_batch_norm(network: GarmentNet) -> GarmentNet:
    """Fold every batch norm into the convolution before it (in place, eval mode): the deployed form.

    The fused network's parameter names are the ONNX initializer names, which is how the torch
    backend loads the exact weights of an ONNX model file.
    """
    network.eval()
    for module in network.modules():
        if isinstance(module, nn.Sequential) and len(module) >= 2 and isinstance(module[1], nn.BatchNorm2d):
            module[0] = torch.nn.utils.fusion.fuse_conv_bn_eval(module[0], module[1])
            module[1] = nn.Identity()
    return network


def build_network(config: ModelConfig | None = None) -> GarmentNet:
    """A freshly initialised network for ``config`` (the default config when None)."""
    return GarmentNet(config or ModelConfig())


def count_parameters(network: Any) -> int:
    return sum(p.numel() for p in network.parameters())
