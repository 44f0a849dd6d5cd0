"""Training data of clothNet's two stages: boxes (and masks) for the detectors, photo folders for the classifier.

Both reuse :class:`~garmentcli.train.data.GarmentDataset`'s letterboxing and augmentation (the garments' boxes and
segmentation polygons move with the image); only the targets differ:

- :class:`BoxDataset`: torchvision's detection targets, padded to the same number of garments in every image so
  that batches collate as every other family's (:func:`~garmentcli.models.rcnn.unpad_targets` undoes it):
  ``boxes`` x0 y0 x1 y1 in input pixels, ``labels`` the categories 1..13 (0 in the padding), and for Mask R-CNN
  ``masks``, each garment's polygons filled on the input canvas. Weakly-labelled photos have no boxes and are
  refused, and so, for Mask R-CNN, are garments without a segmentation.
- :class:`PhotoClassDataset`: a weakly-labelled photo and the index of its folder among the classifier's classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from garmentcli.errors import InputError, require_torch
from garmentcli.io.folder_labels import photo_folder
from garmentcli.models.config import ClassifierConfig, FasterRcnnConfig, MaskRcnnConfig
from garmentcli.schema.records import Garment
from garmentcli.train.augment import AugmentConfig
from garmentcli.train.data import GarmentDataset, Sample

torch = require_torch()


def rcnn_targets(garments: Sequence[Garment], size: int, slots: int, masks: bool) -> dict[str, np.ndarray]:
    """The padded detection targets of one ``size`` x ``size`` input holding ``garments`` (at most ``slots``)."""
    boxes = np.zeros((slots, 4), np.float32)
    labels = np.zeros(slots, np.int64)
    for i, garment in enumerate(garments):
        x, y, w, h = garment.bbox
        boxes[i] = (x, y, x + w, y + h)
        labels[i] = garment.category_id
    targets = {"boxes": boxes, "labels": labels}
    if masks:
        filled = np.zeros((slots, size, size), np.uint8)
        for i, garment in enumerate(garments):
            polygons = [np.round(np.reshape(p, (-1, 2))).astype(np.int32) for p in garment.segmentation or ()]
            cv2.fillPoly(filled[i], polygons, 1)
        targets["masks"] = filled
    return targets


def _check_box_samples(samples: Sequence[Sample], masks: bool) -> None:
    weak = [s for s in samples if s.weak]
    if weak:
        raise InputError(
            f"{weak[0].path}: {len(weak)} weakly-labelled photos (PHOTO_DIR@MAPPING.json) have no boxes to train a "
            "two-stage detector on; train the classifier on them (--arch classifier) and --graft it"
        )
    if masks:
        for sample in samples:
            for garment in sample.record.garments:
                if not garment.segmentation:
                    raise InputError(
                        f"{sample.path}: garment {garment.id if garment.id is not None else garment.category.name} "
                        "has no segmentation; --arch maskrcnn trains on garment masks (DeepFashion2's and synth's)"
                    )


class BoxDataset(GarmentDataset):
    """Samples as ``(uint8 BGR image (3, S, S), padded detection targets)`` for :class:`~garmentcli.models.rcnn.
    RcnnNet`."""

    def __init__(
        self, samples: Sequence[Sample], config: FasterRcnnConfig, augment: AugmentConfig | None, seed: int = 0
    ) -> None:
        self.masks = isinstance(config, MaskRcnnConfig)
        _check_box_samples(samples, self.masks)
        super().__init__(samples, None, config.input_size, augment, seed)
        self.slots = max([1, *(len(s.record.garments) for s in self.samples)])
        """Garments per image after padding: the most any sample holds (augmentation only ever drops some)."""

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        canvas, garments, _ = self.prepare(index)
        targets = rcnn_targets(garments, self.input_size, self.slots, self.masks)
        image = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1)))
        return image, {name: torch.from_numpy(value) for name, value in targets.items()}


def photo_classes(samples: Sequence[Sample]) -> tuple[str, ...]:
    """The classifier's classes: the photo folders of the weakly-labelled samples, sorted; a one-line error when
    there are none (it learns from PHOTO_DIR@MAPPING.json data only)."""
    classes = sorted({photo_folder(s.record.file_name) for s in samples if s.weak})
    if not classes:
        raise InputError(
            "--arch classifier learns from folders of labelled photos (PHOTO_DIR@MAPPING.json); the data has none"
        )
    return tuple(classes)


class PhotoClassDataset(GarmentDataset):
    """Weakly-labelled photos as ``(uint8 BGR image (3, S, S), {"label": folder index})``."""

    def __init__(
        self, samples: Sequence[Sample], config: ClassifierConfig, augment: AugmentConfig | None, seed: int = 0
    ) -> None:
        index = {name: i for i, name in enumerate(config.classes)}
        labels = []
        for sample in samples:
            folder = photo_folder(sample.record.file_name) if sample.weak else None
            if folder not in index:
                what = f"folder {folder!r}" if sample.weak else "an annotated image, not a labelled photo"
                raise InputError(f"{sample.path}: {what}; the classifier's classes are {', '.join(config.classes)}")
            labels.append(index[folder])
        super().__init__(samples, None, config.input_size, augment, seed)
        self.labels = np.array(labels, np.int64)

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        canvas, _, _ = self.prepare(index)
        image = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1)))
        return image, {"label": torch.tensor(self.labels[index])}
