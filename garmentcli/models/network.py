"""The one-stage garment network: a backbone (EfficientNet-Lite or from scratch), a feature pyramid, stride-4 heads.

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
from garmentcli.models.config import HEAD_NAMES, SCRATCH_BACKBONE, ModelConfig
from garmentcli.models.layers import InputNormalization, InvertedResidual, SeparableConv, conv_bn

torch = require_torch()
nn = torch.nn

HEATMAP_HEADS = ("center_heatmap", "landmark_heatmap")
"""Heads whose raw outputs are logits (sigmoid gives the heatmap); the others are linear."""

HEATMAP_PRIOR = 0.01
"""Initial heatmap probability (CenterNet's bias initialisation, for a stable focal loss)."""


def head_channels(config: ModelConfig) -> dict[str, int]:
    """Number of output channels of every head for ``config``."""
    groups = config.num_groups
    channels = (config.num_categories, 2, 2, 2 * groups, groups, 2 * groups)
    return dict(zip(HEAD_NAMES, channels, strict=True))


class InvertedResidualBackbone(nn.Module):
    """The from-scratch backbone (``backbone="inverted-residual"``): a two-convolution stem to stride 4, then
    four stages of MobileNetV2 blocks of ``width * 2**i`` channels at strides 4, 8, 16 and 32."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = [config.width * 2**i for i in range(4)]
        self.stem = nn.Sequential(conv_bn(3, widths[0] // 2, 3, 2), conv_bn(widths[0] // 2, widths[0], 3, 2))
        stages = []
        for i, (width, blocks) in enumerate(zip(widths, config.depth, strict=True)):
            layers = [] if i == 0 else [InvertedResidual(widths[i - 1], width, 2, config.expansion)]
            layers += [InvertedResidual(width, width, 1, config.expansion) for _ in range(blocks)]
            stages.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(stages)
        self.channels = widths

    def forward(self, x: Any) -> list[Any]:
        features = []
        x = self.stem(x)
        for stage in self.blocks:
            x = stage(x)
            features.append(x)
        return features

    def stages(self) -> list[Any]:
        """The backbone cut into its resolution stages, shallowest first (for freezing)."""
        return [self.stem, *self.blocks]


def build_backbone(config: ModelConfig) -> Any:
    """The feature extractor named by ``config.backbone`` (randomly initialised)."""
    if config.backbone == SCRATCH_BACKBONE:
        return InvertedResidualBackbone(config)
    from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk

    return EfficientNetLiteTrunk(config.backbone)


class GarmentNet(nn.Module):
    """Backbone (strides 4–32) + top-down feature pyramid fused at stride 4 + one small head per output.

    The backbone is ``config.backbone``: an ImageNet-pretrainable EfficientNet-Lite trunk (the
    default), or the small from-scratch inverted-residual network of the first models.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = InputNormalization()
        self.backbone = build_backbone(config)
        widths = self.backbone.channels
        neck = config.neck_channels
        self.laterals = nn.ModuleList(conv_bn(width, neck) for width in widths)
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
        features = self.backbone(self.normalize(images))
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


def build_network(config: ModelConfig | None = None) -> GarmentNet:
    """A freshly initialised network for ``config`` (the default config when None)."""
    return GarmentNet(config or ModelConfig())


def count_parameters(network: Any) -> int:
    return sum(p.numel() for p in network.parameters())
