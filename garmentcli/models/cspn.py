"""The CSPN-style top-down landmark network: one garment crop in, a cascade of heatmaps per landmark group out.

After the cascaded stacked pyramid network (``../shared/reference/seed-methods.md``): the trunk's four levels
are fused top-down (upsample the deeper map, add the same-size shallower one) into maps at three resolutions,
and this is repeated in ``stages`` cascaded stages, each taking the previous stage's maps as input; every stage
gives one heatmap per landmark group, the last one is the prediction. The design chosen here:

- **Trunk** the project's EfficientNet-Lite (ImageNet weights, frozen stages as for the other models) in place
  of the paper's ResNet: its stride-4, -8, -16 and -32 features play conv2–conv5.
- **Map resolutions.** The paper's maps are 64², 128² and 256² cells, in the ratio 1 : 2 : 4 with its heatmaps
  on the finest. Here they keep that ratio and scale with the crop: strides 16, 8 and 4
  (:data:`~garmentcli.models.config.CSPN_STRIDES`), 12 x 16, 24 x 32 and 48 x 64 cells for the 192 x 256 crop.
  The heatmaps are at stride 4, the resolution of the trunk's finest feature and of the project's other
  heatmaps (the one-stage model's); a finer map would have to be upsampled beyond every trunk feature, costs
  4 times the memory per halving for 77 maps in each of the stages, and the sub-pixel decoding
  (:class:`~garmentcli.models.heatmap.HeatmapCodec`) recovers what lies between the cells.
- **Stage 1** (:class:`PyramidFusion`): each trunk level projected to ``channels`` (1 x 1), then from the
  stride-32 one down: upsample (nearest), add the next level, smooth (separable 3 x 3); the stride-16, -8 and -4
  results are the stage's three maps.
- **Stages 2 to N** (:class:`CascadeStage`): the previous stage's heatmaps are mapped back to ``channels``
  (1 x 1) and added to its finest map; a bottom-up pass (strided 3 x 3 convolutions, adding the previous map of
  each size) then the same top-down fusion give the stage's three maps. The paper does not say how a stage reads
  the previous one beyond taking its maps; feeding the heatmaps back is the stacked hourglass's way.
- **Heads**: separable 3 x 3 then 1 x 1 to one map per group, on the finest map of each stage.

``forward`` returns every stage's heatmaps (training supervises them all, :func:`~garmentcli.train.losses.cspn_losses`);
:class:`CspnInference` is the deployed graph, the last stage's alone. The maps are linear (the targets are Gaussians
with peak 1, the loss is the mean squared error). torch is imported lazily: only code that needs the network
imports this module.
"""

from __future__ import annotations

from typing import Any

from garmentcli.errors import require_torch
from garmentcli.models.config import CSPN_STRIDES, CspnConfig
from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk
from garmentcli.models.layers import InputNormalization, SeparableConv, conv_bn

torch = require_torch()
nn = torch.nn
F = nn.functional


class PyramidFusion(nn.Module):
    """Maps coarsest first -> the same maps fused top-down: each one plus the upsampled fused deeper one, smoothed
    (the coarsest as it is)."""

    def __init__(self, channels: int, levels: int) -> None:
        super().__init__()
        self.smooth = nn.ModuleList(SeparableConv(channels, channels) for _ in range(levels - 1))

    def forward(self, maps: list[Any]) -> list[Any]:
        fused = [maps[0]]
        for smooth, shallower in zip(self.smooth, maps[1:], strict=True):
            fused.append(smooth(shallower + F.interpolate(fused[-1], size=shallower.shape[-2:], mode="nearest")))
        return fused


HEAD_INIT_STD = 1e-3
"""Standard deviation of the heads' last weights (biases 0): the maps start near 0, the empty target (SimpleBaseline's
initialisation), so training learns the peaks instead of first unlearning noise."""


def heatmap_head(channels: int, groups: int) -> Any:
    """Separable 3 x 3, then 1 x 1 to one linear map per landmark group, starting near 0 (:data:`HEAD_INIT_STD`)."""
    out = nn.Conv2d(channels, groups, 1)
    nn.init.normal_(out.weight, std=HEAD_INIT_STD)
    nn.init.zeros_(out.bias)
    return nn.Sequential(SeparableConv(channels, channels), out)


class CascadeStage(nn.Module):
    """A stage after the first: the previous stage's maps (coarsest first) and heatmaps -> new maps and heatmaps."""

    def __init__(self, channels: int, groups: int, levels: int) -> None:
        super().__init__()
        self.feedback = nn.Conv2d(groups, channels, 1)
        self.down = nn.ModuleList(conv_bn(channels, channels, 3, 2) for _ in range(levels - 1))
        self.fusion = PyramidFusion(channels, levels)
        self.head = heatmap_head(channels, groups)

    def forward(self, maps: list[Any], heatmaps: Any) -> tuple[list[Any], Any]:
        upward = [maps[-1] + self.feedback(heatmaps)]
        for down, previous in zip(self.down, reversed(maps[:-1]), strict=True):
            upward.append(previous + down(upward[-1]))
        fused = self.fusion(upward[::-1])
        return fused, self.head(fused[-1])


class CspnNet(nn.Module):
    """Crop (B, 3, H, W) float BGR 0..255 -> a tuple of ``stages`` heatmaps (B, G, H / 4, W / 4), first stage first."""

    def __init__(self, config: CspnConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = InputNormalization()
        self.backbone = EfficientNetLiteTrunk(config.backbone)
        channels, groups = config.channels, config.num_groups
        self.laterals = nn.ModuleList(conv_bn(width, channels) for width in reversed(self.backbone.channels))
        self.fusion = PyramidFusion(channels, len(self.laterals))
        self.head = heatmap_head(channels, groups)
        levels = len(CSPN_STRIDES)
        self.cascade = nn.ModuleList(CascadeStage(channels, groups, levels) for _ in range(config.stages - 1))

    def forward(self, crops: Any) -> tuple[Any, ...]:
        features = self.backbone(self.normalize(crops))  # strides 4, 8, 16, 32
        fused = self.fusion([lateral(f) for lateral, f in zip(self.laterals, reversed(features), strict=True)])
        maps = fused[-len(CSPN_STRIDES) :]  # strides 16, 8, 4: the stride-32 level only feeds them
        heatmaps = [self.head(maps[-1])]
        for stage in self.cascade:
            maps, latest = stage(maps, heatmaps[-1])
            heatmaps.append(latest)
        return tuple(heatmaps)


class CspnInference(nn.Module):
    """The deployed graph: the last stage's heatmaps alone, as a one-output tuple (:data:`CSPN_OUTPUTS` order)."""

    def __init__(self, network: CspnNet) -> None:
        super().__init__()
        self.network = network
        self.config = network.config

    def forward(self, crops: Any) -> tuple[Any]:
        return (self.network(crops)[-1],)


def build_cspn(config: CspnConfig | None = None) -> CspnNet:
    """A freshly initialised CSPN network for ``config`` (the default config when None)."""
    return CspnNet(config or CspnConfig())
