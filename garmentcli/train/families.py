"""The model families ``garmentkp train`` trains, each as what the training loop needs of it.

The loop (:mod:`garmentcli.train.loop`) is one: optimiser, schedule, frozen stages, checkpoints,
logs and resume are shared. What differs between the one-stage detectors (CenterNet after
DeepMark++, and the keypoint-guided KGDet), the top-down landmark models (RTFPose, CSPN), clothNet's two-stage
detectors (Faster and Mask R-CNN) and its garment classifier is the network, the dataset that makes its inputs and
targets, its loss and its validation (and the figure that picks ``best.pt``); a :class:`Family` bundles those,
picked by the architecture name that every checkpoint stores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from garmentcli.errors import InputError, SchemaError
from garmentcli.models.config import (
    ARCHITECTURE,
    CLASSIFIER_ARCHITECTURE,
    CSPN_ARCHITECTURE,
    FASTERRCNN_ARCHITECTURE,
    KGDET_ARCHITECTURE,
    MASKRCNN_ARCHITECTURE,
    TOPDOWN_ARCHITECTURE,
    AnyConfig,
    ClassifierConfig,
    CspnConfig,
    FasterRcnnConfig,
    KgdetConfig,
    MaskRcnnConfig,
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
    """``(network, config, samples, device)`` -> figures, :attr:`score` among them."""
    score: str = "val_kp_AP"
    """The validation figure whose best value picks ``best.pt`` (higher is better)."""
    forward: Callable[[Any, Any, dict[str, Any]], Any] = lambda network, images, targets: network(images)
    """``(network, images, targets)`` -> the training outputs :attr:`losses` takes (the two-stage detectors take
    their targets in the forward pass and return their loss terms)."""
    fit_config: Callable[[Any, Sequence[Sample]], Any] = lambda config, samples: config
    """``(config, training samples)`` -> the config to build (the classifier takes its classes from the data)."""


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


def _rcnn(config_type: type[FasterRcnnConfig]) -> Callable[[], Family]:
    """clothNet's two-stage detectors: box (and mask) targets, torchvision's losses, box AP picks ``best.pt``."""

    def make() -> Family:
        from garmentcli.models.rcnn import build_rcnn
        from garmentcli.train.losses import rcnn_losses
        from garmentcli.train.rcnn_data import BoxDataset
        from garmentcli.train.validate import validate_boxes

        return Family(
            architecture_of(config_type()),
            config_type,
            build_rcnn,
            BoxDataset,
            lambda outputs, targets, options: rcnn_losses(outputs),
            validate_boxes,
            score="val_box_AP",
            forward=lambda network, images, targets: network(images, targets),
        )

    return make


def _classifier() -> Family:
    """The garment-photo classifier, clothNet's first stage: folder classes, cross-entropy, accuracy."""
    from garmentcli.models.classifier import build_classifier
    from garmentcli.train.losses import classifier_losses
    from garmentcli.train.rcnn_data import PhotoClassDataset, photo_classes
    from garmentcli.train.validate import validate_classifier

    def fit_config(config: ClassifierConfig, samples: Sequence[Sample]) -> ClassifierConfig:
        return config if config.classes else replace(config, classes=photo_classes(samples))

    return Family(
        CLASSIFIER_ARCHITECTURE,
        ClassifierConfig,
        build_classifier,
        PhotoClassDataset,
        lambda outputs, targets, options: classifier_losses(outputs, targets),
        validate_classifier,
        score="val_accuracy",
        fit_config=fit_config,
    )


FAMILIES = {
    ARCHITECTURE: _centernet,
    TOPDOWN_ARCHITECTURE: _topdown,
    CSPN_ARCHITECTURE: _cspn,
    KGDET_ARCHITECTURE: _kgdet,
    FASTERRCNN_ARCHITECTURE: _rcnn(FasterRcnnConfig),
    MASKRCNN_ARCHITECTURE: _rcnn(MaskRcnnConfig),
    CLASSIFIER_ARCHITECTURE: _classifier,
}

FAMILY_NAMES = {
    "centernet": ARCHITECTURE,
    "rtfpose": TOPDOWN_ARCHITECTURE,
    "cspn": CSPN_ARCHITECTURE,
    "kgdet": KGDET_ARCHITECTURE,
    "fasterrcnn": FASTERRCNN_ARCHITECTURE,
    "maskrcnn": MASKRCNN_ARCHITECTURE,
    "classifier": CLASSIFIER_ARCHITECTURE,
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
