"""The KGDet-style keypoint-guided one-stage detector: boxes made from keypoints, features gathered at them.

After KGDet (Qian et al., ``../shared/reference/seed-methods.md``), on RepPoints' plan. The design chosen here:

- **Trunk and neck.** The project's EfficientNet-Lite (ImageNet weights when training starts, frozen stages as for
  the other models); its features at the :attr:`~garmentcli.models.config.KgdetConfig.strides` levels (16 and 32 by
  default: garments are large) projected to ``neck_channels`` and fused top-down
  (:class:`~garmentcli.models.cspn.PyramidFusion`).
- **Anchor-free heads**, shared by every level: a classification tower and a regression tower (two separable
  3 x 3 each). From every location the regression predicts the offsets to all G semantic landmark groups
  (``points``, in cells of its level from the location's centre) and each group's visibility logit.
- **Informative keypoints** (:class:`EncodedKeypoints`, :class:`SelectedKeypoints`): N points derived from the G,
  either *encoded* (a learned 1 x 1 convolution of all 2G offset channels; the paper's "three parallel columns" of
  1 x 1 convolutions over the same input are, being linear, one convolution with their outputs side by side) or
  *selected* (the N groups of highest predicted visibility at that location, the paper's n = 9).
- **Box from keypoints** (:class:`MomentBox`): centre = the informative keypoints' mean, size = their standard
  deviation times ``exp`` of a learned multiplier per axis (RepPoints' moment transform).
- **Deformable gathering and the cascade.** A refinement stage samples the regression tower's features at the
  previous stage's informative keypoints with a deformable convolution whose k x k taps are those N points
  (:class:`~garmentcli.models.deform.DeformConv2d`), and adds its own offsets to the previous stage's (offsets
  accumulate); ``refinements`` (2) stages follow the initial one, each with its own informative keypoints and box.
  The classification tower's features are gathered the same way at the last stage's informative keypoints, so the
  score, the box and the keypoints all come from the last stage. As in RepPoints, the points steer the gathering
  with a tenth of their gradient (:data:`GATHER_GRADIENT`).

``forward`` returns every stage's points and boxes (training supervises them all,
:func:`~garmentcli.train.losses.kgdet_losses`), per location, the levels' locations concatenated coarsest last, in
cells of each location's level; :class:`KgdetInference` is the deployed graph, in input pixels. torch is imported
lazily: only code that needs the network imports this module.
"""

from __future__ import annotations

import math
from typing import Any

from garmentcli.errors import require_torch
from garmentcli.models.config import KgdetConfig
from garmentcli.models.cspn import PyramidFusion
from garmentcli.models.deform import DeformConv2d
from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk
from garmentcli.models.layers import InputNormalization, SeparableConv, conv_bn

torch = require_torch()
nn = torch.nn
F = nn.functional

TRUNK_STRIDES = (4, 8, 16, 32)
"""Strides of the trunk's features (:data:`~garmentcli.models.efficientnet_lite.FEATURE_GROUPS`)."""

SCORE_PRIOR = 0.01
"""Initial category and visibility probability (the focal-loss detectors' bias initialisation)."""

MOMENT_INIT = math.log(2.0)
"""Initial box multipliers: a box two standard deviations of its keypoints wide, RepPoints' starting box."""

GATHER_GRADIENT = 0.1
"""Share of the gradient that flows from the deformable gathering back into the points that steer it (RepPoints)."""

SPREAD_EPS = 1e-6
"""Added to the keypoints' variance (cells squared) before its square root, which has no gradient at 0."""

TOWER_DEPTH = 2


def _prior_bias(conv: Any) -> Any:
    nn.init.constant_(conv.bias, -math.log((1 - SCORE_PRIOR) / SCORE_PRIOR))
    return conv


def moment_box(points: Any, multipliers: Any) -> Any:
    """Points ``(..., N, 2, H, W)`` (x, y) and per-axis log multipliers ``(2,)`` -> boxes ``(..., 4, H, W)``
    ``x0, y0, x1, y1``: centre the points' mean, side their standard deviation over the N (``sqrt(variance +``
    :data:`SPREAD_EPS` ``)``) times ``exp`` of the multiplier."""
    centre = points.mean(dim=-4)
    spread = ((points - centre.unsqueeze(-4)).pow(2).mean(dim=-4) + SPREAD_EPS).sqrt()
    half = spread * multipliers.exp().view(2, 1, 1) / 2
    return torch.cat([centre - half, centre + half], dim=-3)


class MomentBox(nn.Module):
    """:func:`moment_box` with the two multipliers learned."""

    def __init__(self) -> None:
        super().__init__()
        self.multipliers = nn.Parameter(torch.full((2,), MOMENT_INIT))

    def forward(self, points: Any) -> Any:
        return moment_box(points, self.multipliers)


class EncodedKeypoints(nn.Module):
    """All G keypoint offsets ``(B, 2G, H, W)`` -> N learned representative points ``(B, 2N, H, W)`` (x, y pairs)."""

    def __init__(self, groups: int, points: int) -> None:
        super().__init__()
        self.encode = nn.Conv2d(2 * groups, 2 * points, 1)

    def forward(self, points: Any, visibility: Any) -> Any:
        return self.encode(points)


class SelectedKeypoints(nn.Module):
    """All G keypoint offsets ``(B, 2G, H, W)`` -> the N of highest visibility logit ``(B, G, H, W)`` at each location,
    most visible first, ``(B, 2N, H, W)``."""

    def __init__(self, points: int) -> None:
        super().__init__()
        self.points = points

    def forward(self, points: Any, visibility: Any) -> Any:
        batch, groups, height, width = visibility.shape
        chosen = visibility.topk(self.points, dim=1).indices
        pairs = points.reshape(batch, groups, 2, height, width)
        picked = torch.gather(pairs, 1, chosen.unsqueeze(2).expand(batch, self.points, 2, height, width))
        return picked.reshape(batch, 2 * self.points, height, width)


def informative_keypoints(config: KgdetConfig) -> Any:
    """The informative-keypoint module ``config.informative`` names."""
    if config.informative == "selected":
        return SelectedKeypoints(config.informative_points)
    return EncodedKeypoints(config.num_groups, config.informative_points)


def gather_offsets(informative: Any, kernel: int) -> Any:
    """Informative points ``(B, 2N, H, W)`` (x, y from each location, in cells; N = kernel^2) -> the deformable
    convolution's offsets ``(B, 2N, H, W)``: ``(dy, dx)`` of tap ``n`` from its place in the regular kernel, so that
    tap ``n`` samples point ``n``."""
    batch, _, height, width = informative.shape
    taps = torch.arange(kernel, dtype=informative.dtype, device=informative.device) - kernel // 2
    base = torch.stack([taps.repeat_interleave(kernel), taps.repeat(kernel)], dim=1).view(1, kernel * kernel, 2, 1, 1)
    xy = informative.reshape(batch, kernel * kernel, 2, height, width)
    return (xy.flip(2) - base).reshape(batch, 2 * kernel * kernel, height, width)


def _steering(points: Any) -> Any:
    """``points`` passing :data:`GATHER_GRADIENT` of the gradient back."""
    return GATHER_GRADIENT * points + (1 - GATHER_GRADIENT) * points.detach()


def _tower(channels_in: int, channels: int) -> Any:
    return nn.Sequential(
        SeparableConv(channels_in, channels), *(SeparableConv(channels, channels) for _ in range(1, TOWER_DEPTH))
    )


class RefinementStage(nn.Module):
    """Features gathered at the previous informative keypoints -> offsets added to the previous stage's keypoints."""

    def __init__(self, config: KgdetConfig) -> None:
        super().__init__()
        channels = config.head_channels
        self.kernel = config.kernel
        self.gather = DeformConv2d(channels, channels, config.kernel)
        self.delta = nn.Conv2d(channels, 2 * config.num_groups, 1)
        nn.init.zeros_(self.delta.weight)  # a new stage starts as the one before
        nn.init.zeros_(self.delta.bias)
        self.informative = informative_keypoints(config)
        self.box = MomentBox()

    def forward(self, features: Any, points: Any, informative: Any, visibility: Any) -> tuple[Any, Any, Any]:
        gathered = F.relu(self.gather(features, gather_offsets(_steering(informative), self.kernel)))
        refined = points + self.delta(gathered)
        chosen = self.informative(refined, visibility)
        return refined, chosen, self.box(_pairs(chosen))


def _pairs(points: Any) -> Any:
    """``(B, 2N, H, W)`` -> ``(B, N, 2, H, W)``."""
    batch, channels, height, width = points.shape
    return points.reshape(batch, channels // 2, 2, height, width)


class KgdetNet(nn.Module):
    """Image (B, 3, S, S) float BGR 0..255 -> per location of every head level: category logits, visibility logits,
    and each stage's keypoints and boxes (cells of the location's level, from its centre).

    Returns ``{"scores": (B, L, C), "visibility": (B, L, G), "points": per stage (B, L, G, 2), "boxes": per stage
    (B, L, 4)}``, L the locations of all levels (row-major per level, the levels in :attr:`KgdetConfig.strides`
    order).
    """

    def __init__(self, config: KgdetConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = InputNormalization()
        self.backbone = EfficientNetLiteTrunk(config.backbone)
        self.levels = [TRUNK_STRIDES.index(stride) for stride in config.strides]
        neck, channels, groups = config.neck_channels, config.head_channels, config.num_groups
        widths = self.backbone.channels
        self.laterals = nn.ModuleList(conv_bn(widths[level], neck) for level in reversed(self.levels))
        self.fusion = PyramidFusion(neck, len(self.levels))
        self.cls_tower = _tower(neck, channels)
        self.reg_tower = _tower(neck, channels)
        self.initial = nn.Sequential(SeparableConv(channels, channels), nn.Conv2d(channels, 2 * groups, 1))
        self.visibility = _prior_bias(nn.Conv2d(channels, groups, 1))
        self.informative = informative_keypoints(config)
        self.box = MomentBox()
        self.refinements = nn.ModuleList(RefinementStage(config) for _ in range(config.refinements))
        self.cls_gather = DeformConv2d(channels, channels, config.kernel)
        self.classify = _prior_bias(nn.Conv2d(channels, config.num_categories, 1))

    def pyramid(self, images: Any) -> list[Any]:
        """The neck's maps at :attr:`KgdetConfig.strides`, finest first."""
        features = self.backbone(self.normalize(images))
        deepest_first = [
            lateral(features[level]) for lateral, level in zip(self.laterals, reversed(self.levels), strict=True)
        ]
        return self.fusion(deepest_first)[::-1]

    def level(self, features: Any) -> dict[str, Any]:
        """The heads on one level's map: ``scores (B, C, H, W)``, ``visibility (B, G, H, W)``, ``points`` and
        ``boxes`` per stage (``(B, 2G, H, W)`` x, y pairs and ``(B, 4, H, W)``)."""
        regression = self.reg_tower(features)
        points = self.initial(regression)
        visibility = self.visibility(regression)
        chosen = self.informative(points, visibility)
        stages_points, stages_boxes = [points], [self.box(_pairs(chosen))]
        for stage in self.refinements:
            points, chosen, box = stage(regression, points, chosen, visibility)
            stages_points.append(points)
            stages_boxes.append(box)
        offsets = gather_offsets(_steering(chosen), self.config.kernel)
        scores = self.classify(F.relu(self.cls_gather(self.cls_tower(features), offsets)))
        return {"scores": scores, "visibility": visibility, "points": stages_points, "boxes": stages_boxes}

    def training_only(self) -> list[str]:
        """Names of the parameters that only training uses: the box multipliers of the stages before the last (the
        deployed graph gives the last stage's box alone)."""
        stages = [self.box, *(stage.box for stage in self.refinements)]
        owners = {id(box): name for name, box in self.named_modules()}
        return [f"{owners[id(box)]}.multipliers" for box in stages[:-1]]

    def forward(self, images: Any) -> dict[str, Any]:
        levels = [self.level(features) for features in self.pyramid(images)]
        groups = self.config.num_groups

        def rows(maps: list[Any]) -> Any:  # (B, K, H, W) per level -> (B, L, K)
            return torch.cat([m.flatten(2) for m in maps], dim=2).transpose(1, 2)

        stages = range(self.config.refinements + 1)
        return {
            "scores": rows([lv["scores"] for lv in levels]),
            "visibility": rows([lv["visibility"] for lv in levels]),
            "points": [rows([lv["points"][s] for lv in levels]).unflatten(2, (groups, 2)) for s in stages],
            "boxes": [rows([lv["boxes"][s] for lv in levels]) for s in stages],
        }


def location_grid(config: KgdetConfig) -> tuple[Any, Any]:
    """Every location's centre in input pixels ``(L, 2)`` and its level's stride ``(L, 1)``, in the network's order."""
    centres, strides = [], []
    for stride in config.strides:
        side = config.input_size // stride
        cells = torch.arange(side, dtype=torch.float32) + 0.5
        y, x = torch.meshgrid(cells, cells, indexing="ij")
        centres.append(torch.stack([x.flatten(), y.flatten()], dim=1) * stride)
        strides.append(torch.full((side * side, 1), float(stride)))
    return torch.cat(centres), torch.cat(strides)


class KgdetInference(nn.Module):
    """The deployed graph: the last stage in input pixels, scores and visibilities through the sigmoid, as a tuple in
    :data:`~garmentcli.models.config.KGDET_OUTPUTS` order. ONNX export and the torch backend both run it."""

    def __init__(self, network: KgdetNet) -> None:
        super().__init__()
        self.network = network
        self.config = network.config
        centres, strides = location_grid(network.config)
        self.register_buffer("centres", centres, persistent=False)
        self.register_buffer("strides", strides, persistent=False)

    def forward(self, images: Any) -> tuple[Any, Any, Any, Any]:
        outputs = self.network(images)
        boxes = outputs["boxes"][-1] * self.strides + self.centres.repeat(1, 2)
        keypoints = outputs["points"][-1] * self.strides.unsqueeze(-1) + self.centres.unsqueeze(1)
        return torch.sigmoid(outputs["scores"]), boxes, keypoints, torch.sigmoid(outputs["visibility"])


def build_kgdet(config: KgdetConfig | None = None) -> KgdetNet:
    """A freshly initialised KGDet network for ``config`` (the default config when None)."""
    return KgdetNet(config or KgdetConfig())
