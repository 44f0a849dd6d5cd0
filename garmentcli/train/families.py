"""The model families ``garmentkp train`` trains, each as what the training loop needs of it.

The loop (:mod:`garmentcli.train.loop`) is one: optimiser, schedule, frozen stages, checkpoints,
logs and resume are shared. What differs between the one-stage detectors (CenterNet after
DeepMark++, and the keypoint-guided KGDet) and the top-down landmark models (RTFPose, CSPN) is the
network, the dataset that makes its inputs and targets, its loss and its validation; a
:class:`Family` bundles those four, picked by the architecture name that every checkpoint stores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from garmentcli.errors import InputError, SchemaError
from garmentcli.models.config import (
    ARCHITECTURE,
    CSPN_ARCHITECTURE,
    KGDET_ARCHITECTURE,
    TOPDOWN_ARCHITECTURE,
    AnyConfig,
    CspnConfig,
    KgdetConfig,
    ModelConfig,
    TopDownConfig,
    architecture_of,
)
from garmentcli.train.augment import AugmentConfig
from garmentcli.train.data import Sample


@dataclass(frozen=True)
class Family:
    """One trainable model family."""

    architecture: str
    config_type: type
    build: Callable[[Any], Any]
    dataset: Callable[[Sequence[Sample], Any, AugmentConfig | None, int], Any]
    losses: Callable[[Any, dict[str, Any], Any], dict[str, Any]]
    """``(outputs, targets, options)`` -> the loss terms, ``loss`` their weighted sum."""
    validate: Callable[[Any, Any, Sequence[Sample], Any], dict[str, float]]
    """``(network, config, samples, device)`` -> figures, ``val_kp_AP`` among them (it picks ``best.pt``)."""


def _centernet() -> Family:
    from garmentcli.models.codec import TargetCodec
    from garmentcli.models.network import build_network
    from garmentcli.train.data import GarmentDataset
    from garmentcli.train.losses import detection_losses
    from garmentcli.train.validate import validate

    def dataset(samples: Sequence[Sample], config: ModelConfig, augment: AugmentConfig | None, seed: int) -> Any:
        return GarmentDataset(samples, TargetCodec(config), config.input_size, augment, seed)

    return Family(
        ARCHITECTURE,
        ModelConfig,
        build_network,
        dataset,
        lambda outputs, targets, options: detection_losses(outputs, targets, options.weights),
        validate,
    )


def _topdown() -> Family:
    from garmentcli.models.topdown import build_topdown
    from garmentcli.train.losses import simcc_losses
    from garmentcli.train.topdown_data import CropDataset
    from garmentcli.train.validate import validate_topdown

    return Family(
        TOPDOWN_ARCHITECTURE,
        TopDownConfig,
        build_topdown,
        CropDataset,
        lambda outputs, targets, options: simcc_losses(outputs, targets),
        validate_topdown,
    )


def _cspn() -> Family:
    from garmentcli.models.cspn import build_cspn
    from garmentcli.train.losses import cspn_losses
    from garmentcli.train.topdown_data import HeatmapCropDataset
    from garmentcli.train.validate import validate_topdown

    return Family(
        CSPN_ARCHITECTURE,
        CspnConfig,
        build_cspn,
        HeatmapCropDataset,
        lambda outputs, targets, options: cspn_losses(outputs, targets),
        validate_topdown,
    )


def _kgdet() -> Family:
    from garmentcli.models.kgdet import build_kgdet
    from garmentcli.models.kgdet_codec import KgdetCodec
    from garmentcli.train.data import GarmentDataset
    from garmentcli.train.losses import kgdet_losses
    from garmentcli.train.validate import validate

    def dataset(samples: Sequence[Sample], config: KgdetConfig, augment: AugmentConfig | None, seed: int) -> Any:
        weak = [s for s in samples if s.weak]
        if weak:
            raise InputError(
                f"--arch kgdet: {len(weak)} weakly-labelled photos (PHOTO_DIR@MAPPING.json, e.g. {weak[0].path}) have "
                "no boxes or landmarks to learn from; train kgdet on annotated data only"
            )
        return GarmentDataset(samples, KgdetCodec(config), config.input_size, augment, seed)

    return Family(
        KGDET_ARCHITECTURE,
        KgdetConfig,
        build_kgdet,
        dataset,
        lambda outputs, targets, options: kgdet_losses(outputs, targets),
        validate,
    )


FAMILIES = {
    ARCHITECTURE: _centernet,
    TOPDOWN_ARCHITECTURE: _topdown,
    CSPN_ARCHITECTURE: _cspn,
    KGDET_ARCHITECTURE: _kgdet,
}

FAMILY_NAMES = {
    "centernet": ARCHITECTURE,
    "rtfpose": TOPDOWN_ARCHITECTURE,
    "cspn": CSPN_ARCHITECTURE,
    "kgdet": KGDET_ARCHITECTURE,
}
"""What ``--arch`` calls each family -> its architecture name (in cards and checkpoints)."""


def family(architecture: str) -> Family:
    """The family of an architecture name (a checkpoint's, or one of :data:`FAMILY_NAMES`' values)."""
    if architecture not in FAMILIES:
        raise SchemaError(f"unknown architecture {architecture!r} (known: {', '.join(FAMILY_NAMES.values())})")
    return FAMILIES[architecture]()


def family_of(config: AnyConfig) -> Family:
    """The family whose config ``config`` is."""
    return family(architecture_of(config))
