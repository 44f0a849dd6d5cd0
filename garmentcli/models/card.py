"""The model card: the small JSON that travels with every ONNX model (beside it and inside its metadata)."""

from __future__ import annotations

from dataclasses import field, fields
from pathlib import Path
from typing import Any, Literal

import orjson

from garmentcli.choices import PRECISIONS
from garmentcli.errors import SchemaError
from garmentcli.io.jsonio import load_json
from garmentcli.models.config import (
    ARCHITECTURE,
    CONFIG_TYPES,
    AnyConfig,
    CropConfig,
    architecture_of,
    config_type,
)
from garmentcli.schema.layout import NUM_LANDMARKS
from garmentcli.settings import NonNegativeInt, settings_class

CARD_SCHEMA_VERSION = 1
"""Version of the card format; bumped when a field changes meaning."""

ARCHITECTURES = tuple(CONFIG_TYPES)
"""Every architecture name a card may carry."""

METADATA_KEY = "garmentkp_card"
"""Key of the card JSON in the ONNX file's ``metadata_props`` (onnxruntime's ``custom_metadata_map``)."""


@settings_class(frozen=False)
class ModelCard:
    """What a model is, how it was made and how well it does; every field checked when the card is made."""

    name: str
    config: AnyConfig
    """The network's shape: a :class:`ModelConfig` (the one-stage detector), a :class:`TopDownConfig` (the
    RTFPose top-down landmark model), a :class:`CspnConfig` (the CSPN one), a :class:`KgdetConfig` (the
    keypoint-guided detector), a :class:`FasterRcnnConfig` or :class:`MaskRcnnConfig` (the two-stage detectors) or
    a :class:`ClassifierConfig`; it decides ``architecture``."""
    architecture: Literal[ARCHITECTURES] = ARCHITECTURE
    schema_version: Literal[CARD_SCHEMA_VERSION] = CARD_SCHEMA_VERSION
    landmarks: str = f"deepfashion2-{NUM_LANDMARKS}"
    parameters: NonNegativeInt | None = None
    training: dict[str, Any] = field(default_factory=dict)
    """Training data and the exact command; free-form."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Accuracy on named test sets, e.g. ``{"synth-test": {"keypoints_AP": 0.61, "bbox_AP": 0.83}}``."""
    export: dict[str, Any] = field(default_factory=dict)
    """Export facts: opset, max abs difference against torch, date; for int8, what it was quantised from."""
    precision: Literal[PRECISIONS] = "float32"
    """The graph's arithmetic: float32, or int8 (``garmentkp quantize``: onnxruntime static QDQ)."""

    def __post_init__(self) -> None:  # the architecture follows the config's type
        self.architecture = architecture_of(self.config)

    @property
    def is_topdown(self) -> bool:
        """A top-down landmark model (crops in, landmarks out) rather than a detector."""
        return isinstance(self.config, CropConfig)

    @property
    def input_size(self) -> int | list[int]:
        """The detector's square input side, or the top-down model's crop ``[width, height]``."""
        if isinstance(self.config, CropConfig):
            return [self.config.input_width, self.config.input_height]
        return self.config.input_size

    @property
    def input_text(self) -> str:
        """The input size as people read it: ``256px``, ``192x256px``."""
        size = self.input_size
        return f"{size[0]}x{size[1]}px" if isinstance(size, list) else f"{size}px"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "architecture": self.architecture,
            "landmarks": self.landmarks,
            "input_size": self.input_size,
            "parameters": self.parameters,
            "config": self.config.to_dict(),
            "training": self.training,
            "metrics": self.metrics,
            "export": self.export,
            "precision": self.precision,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "model card") -> ModelCard:
        """Validate a card dict field by field; one-line :class:`SchemaError` naming ``source`` when it cannot
        be ours. ``input_size`` is derived from the config, and keys of later card versions are left out."""
        try:
            if not isinstance(data, dict):
                raise SchemaError("a model card is a JSON object")
            config = data.get("config")
            known = {f.name for f in fields(cls)} - {"config"}
            values = {k: v for k, v in data.items() if k in known and v is not None}
            kind = config_type(data.get("architecture"))
            return cls(config=kind.from_dict(config) if isinstance(config, dict) else config, **values)
        except SchemaError as exc:
            raise SchemaError(f"{source}: {exc}") from exc

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        return cls.from_dict(load_json(path), str(path))

