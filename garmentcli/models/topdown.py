"""The RTFPose-style top-down landmark network: one garment crop in, SimCC distributions per landmark group out.

After RTMPose (a backbone, a convolution to one map per landmark, flattened, and two 1-D
classifiers per landmark, over x and over y) with the three modules RTFPose adds, each switchable
(:class:`~garmentcli.models.config.TopDownConfig`) for the ablation:

- **CSFF**, cross-scale feature fusion (:class:`CrossScaleFusion`). The paper shows its cross-
  convolution block only in a figure; the design chosen here: the trunk's stride-8, -16 and -32
  features are projected to ``channels``; a *fine* branch at stride 16 concatenates the stride-16
  map with the upsampled stride-32 and the downsampled stride-8 map and fuses them (1 x 1), a
  *coarse* branch keeps the stride-32 map. Then the cross convolutions: each branch convolves
  itself (3 x 3) and receives the other branch's convolution resampled to its scale (upsampled
  coarse into fine, a strided convolution of fine into coarse), summed; the output is the fine
  branch plus the upsampled coarse one, at stride 16 — detail and semantics in one map.
  Without CSFF the stride-32 feature alone is used (RTMPose).
- **MECS**, median-enhanced channel and spatial attention (:class:`MedianEnhancedAttention`):
  channel weights from a shared MLP over the global average, maximum and *median* of each
  channel (summed, sigmoid), then spatial weights from a convolution over the per-position
  average, maximum and median across channels. The median is the lower median, as
  ``torch.median`` returns it, taken with a sort so that the graph exports to ONNX.
- **SAFE**, self-attention feature enhancement (:class:`SelfAttention`): every position attends
  to every other (query/key projections, softmax), the value features are reweighted by it and
  added back, scaled by a learned factor that starts at 0.

The head (:class:`SimccHead`) turns the map into one channel per landmark group (7 x 7
convolution), flattens each and passes it through a shared hidden layer to the x and y bins.
RTMPose's gated attention unit is left out. The output is logits; softmax and decoding are
:class:`~garmentcli.models.simcc.SimccCodec`'s.

A per-group model (``TopDownConfig.heads``, made by :mod:`garmentcli.train.group_heads`) has, beside the
shared head, one head per garment group chosen by some category, each with the maps of only its group's
landmark rows (:func:`~garmentcli.schema.garment_groups.group_landmark_rows`; the rest of a head is shared by
all rows, so a full head's other maps never touch them). It takes each crop's category id too: a crop of a
category that uses a group head gets that head's rows in place of the shared head's.

torch is imported lazily: only code that needs the network imports this module.
"""

from __future__ import annotations

from typing import Any

from garmentcli.errors import require_torch
from garmentcli.models.config import TopDownConfig
from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk
from garmentcli.models.layers import InputNormalization, conv_bn
from garmentcli.schema.garment_groups import SHARED_HEAD, group_landmark_rows

torch = require_torch()
nn = torch.nn
F = nn.functional


def lower_median(x: Any, dim: int) -> Any:
    """The lower median along ``dim`` (``torch.median``'s), by sorting: ONNX has no median operator."""
    count = x.shape[dim]
    return torch.sort(x, dim=dim).values.narrow(dim, (count - 1) // 2, 1).squeeze(dim)


class MedianEnhancedAttention(nn.Module):
    """MECS: channel attention, then spatial attention, each from average, maximum and median pooling."""

    def __init__(self, channels: int, reduction: int = 8, kernel: int = 7) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(3, 1, kernel, padding=kernel // 2)

    @staticmethod
    def channel_pools(x: Any) -> list[Any]:
        """Global average, maximum and median of each channel, each (B, C, 1, 1)."""
        flat = x.flatten(2)
        return [p[..., None, None] for p in (flat.mean(2), flat.amax(2), lower_median(flat, 2))]

    @staticmethod
    def spatial_pools(x: Any) -> Any:
        """Average, maximum and median across channels at every position, stacked (B, 3, H, W)."""
        return torch.stack([x.mean(1), x.amax(1), lower_median(x, 1)], dim=1)

    def forward(self, x: Any) -> Any:
        x = x * torch.sigmoid(sum(self.mlp(p) for p in self.channel_pools(x)))
        return x * torch.sigmoid(self.spatial(self.spatial_pools(x)))


class CrossScaleFusion(nn.Module):
    """CSFF: the stride-8, -16 and -32 features fused by cross convolutions into one stride-16 map."""

    def __init__(self, widths: list[int], channels: int) -> None:
        super().__init__()
        self.project = nn.ModuleList(conv_bn(width, channels) for width in widths)
        self.fuse = conv_bn(3 * channels, channels)
        self.fine_self = conv_bn(channels, channels, 3)
        self.coarse_self = conv_bn(channels, channels, 3)
        self.coarse_to_fine = conv_bn(channels, channels, 3, act=None)
        self.fine_to_coarse = conv_bn(channels, channels, 3, 2, act=None)

    def forward(self, s8: Any, s16: Any, s32: Any) -> Any:
        p8, p16, p32 = (project(f) for project, f in zip(self.project, (s8, s16, s32), strict=True))
        size = p16.shape[-2:]
        fine = self.fuse(torch.cat([p16, F.interpolate(p32, size=size, mode="nearest"), F.avg_pool2d(p8, 2)], 1))
        coarse = p32
        fine, coarse = (
            self.fine_self(fine) + F.interpolate(self.coarse_to_fine(coarse), size=size, mode="nearest"),
            self.coarse_self(coarse) + self.fine_to_coarse(fine),
        )
        return fine + F.interpolate(coarse, size=size, mode="nearest")


class SelfAttention(nn.Module):
    """SAFE: non-local self-attention over the positions of a map, added back with a learned scale (starts at 0)."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(channels // reduction, 8)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.scale = inner**-0.5

    def forward(self, x: Any) -> Any:
        batch, channels, height, width = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, N, d)
        k = self.key(x).flatten(2)  # (B, d, N)
        attention = torch.softmax(torch.bmm(q, k) * self.scale, dim=-1)  # (B, N, N)
        v = self.value(x).flatten(2)  # (B, C, N)
        out = torch.bmm(v, attention.transpose(1, 2)).view(batch, channels, height, width)
        return x + self.gamma * out


class SimccHead(nn.Module):
    """One map per landmark group, flattened, a shared hidden layer, then logits over the x and y bins."""

    def __init__(self, channels: int, groups: int, positions: int, hidden: int, bins: tuple[int, int]) -> None:
        super().__init__()
        self.maps = nn.Conv2d(channels, groups, 7, padding=3)
        self.hidden = nn.Sequential(nn.Linear(positions, hidden), nn.LayerNorm(hidden), nn.SiLU())
        self.to_x = nn.Linear(hidden, bins[0])
        self.to_y = nn.Linear(hidden, bins[1])

    def forward(self, x: Any) -> tuple[Any, Any]:
        shared = self.hidden(self.maps(x).flatten(2))  # (B, G, hidden)
        return self.to_x(shared), self.to_y(shared)


class TopDownNet(nn.Module):
    """Crop (B, 3, H, W) float BGR 0..255 -> SimCC logits x (B, G, W * r) and y (B, G, H * r)."""

    def __init__(self, config: TopDownConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = InputNormalization()
        self.backbone = EfficientNetLiteTrunk(config.backbone)
        widths = self.backbone.channels
        channels = config.channels
        stride = 16 if config.csff else 32
        if config.csff:
            self.neck: Any = CrossScaleFusion(widths[1:], channels)
        else:
            self.neck = conv_bn(widths[-1], channels)
        self.attention = MedianEnhancedAttention(channels) if config.mecs else nn.Identity()
        self.self_attention = SelfAttention(channels) if config.safe else nn.Identity()
        positions = (config.input_width // stride) * (config.input_height // stride)
        bins = (round(config.input_width * config.split_ratio), round(config.input_height * config.split_ratio))
        self.head = SimccHead(channels, config.num_groups, positions, config.hidden, bins)
        names = sorted(set(config.heads) - {SHARED_HEAD})
        self.group_heads = nn.ModuleDict(
            {g: SimccHead(channels, len(group_landmark_rows(g)), positions, config.hidden, bins) for g in names}
        )
        # category id -> 0 (the shared head) or 1 + the index of its group head; id 0 is no category
        choice = [0] + [0 if head == SHARED_HEAD else 1 + names.index(head) for head in config.heads]
        self.register_buffer("choice", torch.tensor(choice, dtype=torch.int64), persistent=False)
        for g in names:  # where each output row comes from in [shared rows, group rows]
            order = torch.arange(config.num_groups)
            rows = torch.from_numpy(group_landmark_rows(g))
            order[rows] = config.num_groups + torch.arange(len(rows))
            self.register_buffer(f"order_{g}", order, persistent=False)

    def trunk(self) -> list[Any]:
        """The modules before the heads: what a per-group fine-tune leaves untouched."""
        return [self.backbone, self.neck, self.attention, self.self_attention]

    def features(self, crops: Any) -> Any:
        """The trunk's output, the heads' input."""
        features = self.backbone(self.normalize(crops))
        fused = self.neck(*features[1:]) if self.config.csff else self.neck(features[-1])
        return self.self_attention(self.attention(fused))

    def forward(self, crops: Any, categories: Any = None) -> tuple[Any, Any]:
        """Logits of the shared head; a per-group model's with each crop's rows from its category's head."""
        features = self.features(crops)
        logits = self.head(features)
        if not self.group_heads:
            return logits
        picked = self.choice[categories][:, None, None]
        for k, (name, head) in enumerate(self.group_heads.items(), 1):
            order = getattr(self, f"order_{name}")
            logits = tuple(
                torch.where(picked == k, torch.cat([shared, own], 1).index_select(1, order), shared)
                for shared, own in zip(logits, head(features), strict=True)
            )
        return logits


def build_topdown(config: TopDownConfig | None = None) -> TopDownNet:
    """A freshly initialised top-down network for ``config`` (the default config when None)."""
    return TopDownNet(config or TopDownConfig())
