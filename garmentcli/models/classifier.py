"""The garment-photo classifier: the first stage of clothNet's grafting.

An ImageNet EfficientNet-Lite trunk fine-tuned to tell which folder of labelled garment photos a photo comes from
(``train PHOTO_DIR@MAPPING.json --arch classifier``); its trunk then initialises a two-stage detector's
(``train --arch fasterrcnn --graft RUN/best.pt``, :mod:`garmentcli.train.graft`). The head is global average
pooling of the stride-32 feature, dropout and one linear layer: it is thrown away after grafting, so it is as small
as a classifier gets. It is not exported: only its trunk is used, in the detector it initialises.
"""

from __future__ import annotations

from typing import Any

from garmentcli.errors import require_torch
from garmentcli.models.config import ClassifierConfig
from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk
from garmentcli.models.layers import InputNormalization

torch = require_torch()
nn = torch.nn


class GarmentClassifier(nn.Module):
    """Photo batch (B, 3, S, S) float BGR 0..255 -> class logits (B, len(config.classes))."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = InputNormalization()
        self.backbone = EfficientNetLiteTrunk(config.backbone)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.backbone.channels[-1], max(1, len(config.classes)))

    def forward(self, images: Any) -> Any:
        deepest = self.backbone(self.normalize(images))[-1]
        return self.head(self.dropout(deepest.mean(dim=(2, 3))))


def build_classifier(config: ClassifierConfig | None = None) -> GarmentClassifier:
    """A freshly initialised classifier for ``config`` (one output when ``config.classes`` is still empty)."""
    return GarmentClassifier(config or ClassifierConfig())
