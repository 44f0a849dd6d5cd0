"""The model card: the small JSON that travels with every ONNX model (beside it and inside its metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from garmentcli.errors import SchemaError
from garmentcli.io.jsonio import load_json
from garmentcli.models.config import ARCHITECTURE, ModelConfig
from garmentcli.schema.layout import NUM_LANDMARKS

CARD_SCHEMA_VERSION = 1
"""Version of the card format; bumped when a field changes meaning."""

METADATA_KEY = "garmentkp_card"
"""Key of the card JSON in the ONNX file's ``metadata_props`` (onnxruntime's ``custom_metadata_map``)."""


@dataclass
class ModelCard:
    """What a model is, how it was made and how well it does."""

    name: str
    config: ModelConfig
    architecture: str = ARCHITECTURE
    schema_version: int = CARD_SCHEMA_VERSION
    landmarks: str = f"deepfashion2-{NUM_LANDMARKS}"
    parameters: int | None = None
    training: dict[str, Any] = field(default_factory=dict)
    """Training data and the exact command; free-form."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Accuracy on named test sets, e.g. ``{"synth-test": {"keypoints_AP": 0.61, "bbox_AP": 0.83}}``."""
    export: dict[str, Any] = field(default_factory=dict)
    """Export facts: opset, max abs difference against torch, date."""

    @property
    def input_size(self) -> int:
        return self.config.input_size

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
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model card") -> ModelCard:
        """Validate a card dict; one-line :class:`SchemaError` naming ``source`` when it cannot be ours."""
        try:
            if data.get("schema_version") != CARD_SCHEMA_VERSION:
                raise SchemaError(f"card schema version {data.get('schema_version')!r}, expected {CARD_SCHEMA_VERSION}")
            if data.get("architecture") != ARCHITECTURE:
                raise SchemaError(f"architecture {data.get('architecture')!r}, expected {ARCHITECTURE}")
            return cls(
                name=str(data["name"]),
                config=ModelConfig.from_dict(data["config"]),
                architecture=data["architecture"],
                schema_version=data["schema_version"],
                landmarks=data.get("landmarks", f"deepfashion2-{NUM_LANDMARKS}"),
                parameters=data.get("parameters"),
                training=dict(data.get("training") or {}),
                metrics=dict(data.get("metrics") or {}),
                export=dict(data.get("export") or {}),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise SchemaError(f"{source}: malformed model card ({type(exc).__name__}: {exc})") from exc
        except SchemaError as exc:
            raise SchemaError(f"{source}: {exc}") from exc

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        return cls.from_dict(load_json(path), str(path))
