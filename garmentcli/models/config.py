"""The network's hyper-parameters as one JSON-able dataclass, stored in every model card and checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from garmentcli.errors import SchemaError
from garmentcli.schema.layout import DF2

ARCHITECTURE = "garmentkp-centernet-v1"
"""Name of the network family :func:`garmentcli.models.network.build_network` builds."""

SCRATCH_BACKBONE = "inverted-residual"
"""The from-scratch backbone of the first models (``width``, ``depth`` and ``expansion`` shape it)."""

BACKBONES = (SCRATCH_BACKBONE, "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
"""Backbones :func:`garmentcli.models.network.build_network` can build; the EfficientNet-Lite ones start from
ImageNet weights when trained with ``--pretrained`` (the default)."""

OUTPUT_STRIDE = 4
"""Every head is predicted on a grid 4 times coarser than the input."""

HEAD_NAMES = (
    "center_heatmap",
    "center_offset",
    "box_size",
    "landmark_regression",
    "landmark_heatmap",
    "landmark_offset",
)
"""The network's heads, in the order the deployed (ONNX) graph outputs them."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network and of its targets.

    ``backbone`` is one of :data:`BACKBONES`. For the from-scratch backbone, ``width`` is the channel
    count at stride 4 (doubled at each of the three deeper stages), ``depth`` the number of residual
    blocks per stage (strides 4, 8, 16, 32) and ``expansion`` the blocks' expansion ratio; the
    EfficientNet-Lite trunks have their fixed published shapes. ``neck_channels`` is the
    feature-pyramid width and ``head_channels`` the hidden width of each head.
    """

    input_size: int = 256
    backbone: str = "efficientnet-lite0"
    width: int = 40
    depth: tuple[int, int, int, int] = (1, 2, 4, 2)
    expansion: int = 4
    neck_channels: int = 96
    head_channels: int = 96
    num_categories: int = len(DF2.categories)
    num_groups: int = len(DF2.semantic_groups)
    max_objects: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", tuple(int(d) for d in self.depth))
        if self.input_size % 32 or self.input_size < 32:
            raise SchemaError(f"input_size must be a positive multiple of 32, got {self.input_size}")
        if self.backbone not in BACKBONES:
            raise SchemaError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if len(self.depth) != 4 or min(self.depth) < 0:
            raise SchemaError(f"depth needs 4 non-negative block counts, got {self.depth}")
        if self.num_categories != len(DF2.categories) or self.num_groups != len(DF2.semantic_groups):
            raise SchemaError(
                f"config predicts {self.num_categories} categories / {self.num_groups} groups; the DeepFashion2 "
                f"layout has {len(DF2.categories)} / {len(DF2.semantic_groups)}"
            )

    @property
    def output_size(self) -> int:
        """Side of the square stride-4 output grid."""
        return self.input_size // OUTPUT_STRIDE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["depth"] = list(self.depth)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a card/checkpoint dict; unknown keys are a :class:`SchemaError`.

        A dict without ``backbone`` was written before the field existed, by a from-scratch model.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        return cls(**{"backbone": SCRATCH_BACKBONE, **data})
