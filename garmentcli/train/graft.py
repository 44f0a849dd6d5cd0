"""clothNet's "grafting": a two-stage detector starts from the trunk of a garment classifier instead of ImageNet's.

The classifier (``train PHOTO_DIR@MAPPING.json --arch classifier``, :mod:`garmentcli.models.classifier`) learns
from many photos labelled only by their folder; its trunk, every weight and batch-norm statistic of it, then
becomes the detector's (``train DATA --arch fasterrcnn --graft RUN/best.pt``), which learns from the far fewer
box-labelled images. Only the trunk is carried over: the classifier's head has nothing to give a detector, and the
detector's pyramid and heads start fresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garmentcli.errors import InputError
from garmentcli.models.checkpoint import network_from_checkpoint
from garmentcli.models.config import ClassifierConfig


def graft_backbone(network: Any, checkpoint: Path) -> int:
    """Copy the trunk of the classifier in ``checkpoint`` into ``network.backbone`` (in place); the number of
    tensors copied. One-line :class:`InputError` when the checkpoint is not a classifier's or its trunk is another
    EfficientNet-Lite variant than the network's."""
    classifier, config, _ = network_from_checkpoint(checkpoint)
    if not isinstance(config, ClassifierConfig):
        raise InputError(
            f"--graft {checkpoint}: not a garment classifier's checkpoint (train one with --arch classifier)"
        )
    if config.backbone != network.config.backbone:
        raise InputError(
            f"--graft {checkpoint}: the classifier's trunk is {config.backbone}, the detector's "
            f"{network.config.backbone} (set --arch backbone={config.backbone})"
        )
    state = classifier.backbone.state_dict()
    network.backbone.load_state_dict(state)
    return len(state)
