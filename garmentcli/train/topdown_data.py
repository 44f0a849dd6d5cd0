"""Training data of the top-down landmark models: one item per annotated garment, its crop and targets (SimCC
for the RTFPose model, heatmaps for CSPN's).

The crop is cut by :class:`~garmentcli.runtime.crops.GarmentCrop`, exactly as inference cuts it, with
a random scale, rotation, shift and mirror folded into the same affine map (a mirror renames the
landmarks by the category's ``flip_index``), and now and then only a part of the garment (the
landmarks above or below its middle: RTMPose's half-body crops, for garments cut by the frame or
hidden under others). Photometric changes are the one-stage model's
(:func:`~garmentcli.train.augment.jitter_colour`, :func:`~garmentcli.train.augment.degrade`).
Targets are per semantic landmark group: the garment's landmarks go to their groups' rows, every
other row has weight 0. Each item's randomness comes from ``(seed, epoch, index)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from garmentcli.errors import require_torch
from garmentcli.io.images import read_image
from garmentcli.models.config import CropConfig
from garmentcli.runtime.crops import GarmentCrop
from garmentcli.runtime.topdown import codec_of
from garmentcli.schema.fld import is_fld
from garmentcli.schema.garment_groups import group_categories
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment
from garmentcli.train.augment import AugmentConfig, degrade, jitter_colour
from garmentcli.train.data import Sample, SeededDataset

torch = require_torch()

TOPDOWN_AUGMENT = AugmentConfig(scale_range=(0.75, 1.25), rotation_deg=25.0, translate_frac=0.1)
"""The top-down model's augmentation: a garment fills its crop, so the scale range is narrower than the
one-stage model's and the rotation wider."""

PART_CROP_PROBABILITY = 0.15
MIN_LABELLED = 3
"""Garments with fewer labelled landmarks are no top-down training items (nor are FLD garments: no groups)."""


def crop_items(samples: Sequence[Sample]) -> list[tuple[int, int]]:
    """``(sample, garment)`` indices of the garments that make training crops."""
    return [
        (s, g)
        for s, sample in enumerate(samples)
        if not sample.weak
        for g, garment in enumerate(sample.record.garments)
        if not is_fld(garment.category_id) and garment.num_labelled >= MIN_LABELLED
    ]


def only_group(samples: Sequence[Sample], group: str) -> list[Sample]:
    """The samples with only the garments of garment ``group``'s categories (a per-group fine-tune's training and
    validation data); samples left without any are dropped. An unknown group is a one-line error."""
    categories = set(group_categories(group))
    kept = []
    for sample in samples:
        garments = [g for g in sample.record.garments if g.category_id in categories]
        if garments:
            kept.append(replace(sample, record=replace(sample.record, garments=garments)))
    return kept


def _part_box(garment: Garment, rng: np.random.Generator) -> np.ndarray:
    """The box of the landmarks above (or below) the garment's middle, or the garment's box when too few."""
    labelled = garment.landmarks[garment.landmarks[:, 2] > 0, :2]
    middle = np.median(labelled[:, 1])
    part = labelled[labelled[:, 1] <= middle] if rng.random() < 0.5 else labelled[labelled[:, 1] >= middle]
    if len(part) < MIN_LABELLED:
        return garment.bbox
    low, high = part.min(axis=0), part.max(axis=0)
    return np.array([*low, *np.maximum(high - low, 8.0)])


def random_crop(
    garment: Garment, config: CropConfig, augment: AugmentConfig, rng: np.random.Generator
) -> tuple[GarmentCrop, bool]:
    """A randomly scaled, turned (normal, cut at twice ``rotation_deg``), shifted and perhaps mirrored (second
    value) crop of ``garment``."""
    box = _part_box(garment, rng) if rng.random() < PART_CROP_PROBABILITY else garment.bbox
    mirror = bool(rng.random() < augment.flip_prob)
    limit = 2 * augment.rotation_deg
    crop = GarmentCrop.around(
        box,
        config.input_width,
        config.input_height,
        scale=float(rng.uniform(*augment.scale_range)),
        rotation_deg=float(np.clip(rng.normal(0.0, augment.rotation_deg), -limit, limit)),
        shift=(
            float(rng.uniform(-augment.translate_frac, augment.translate_frac)),
            float(rng.uniform(-augment.translate_frac, augment.translate_frac)),
        ),
        mirror=mirror,
    )
    return crop, mirror


class CropDataset(SeededDataset):
    """Garment crops as ``(uint8 BGR tensor (3, H, W), {"simcc_x", "simcc_y", "weight"})``; ``augment=None``
    gives the plain inference crop (validation). Subclasses make other targets (:meth:`targets`)."""

    def __init__(
        self, samples: Sequence[Sample], config: CropConfig, augment: AugmentConfig | None, seed: int = 0
    ) -> None:
        super().__init__(augment, seed)
        self.samples = list(samples)
        self.items = crop_items(self.samples)
        self.config = config
        self.codec = codec_of(config)

    def __len__(self) -> int:
        return len(self.items)

    def prepare(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The crop (H, W, 3) and the garment's landmarks ``(K, 3)`` in crop pixels (renamed when mirrored)."""
        s, g = self.items[index]
        sample = self.samples[s]
        garment = sample.record.garments[g]
        image = read_image(sample.path)
        rng = self.rng(index)
        if self.augment is None:
            crop, mirror = GarmentCrop.around(garment.bbox, self.config.input_width, self.config.input_height), False
        else:
            crop, mirror = random_crop(garment, self.config, self.augment, rng)
        pixels = crop.cut(image)
        if self.augment is not None:
            pixels = degrade(jitter_colour(pixels, self.augment, rng), self.augment, rng)
        landmarks = np.column_stack([crop.to_crop(garment.landmarks[:, :2]), garment.landmarks[:, 2]])
        if mirror:
            landmarks = landmarks[garment.category.flip_index]
        return pixels, landmarks

    def targets(self, landmarks: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
        """The targets of one crop's landmarks ``(K, 3)``, put in the rows of their semantic ``groups``; every other
        row has weight 0 (and a uniform distribution)."""
        target_x, target_y, weight = self.codec.encode(landmarks[:, :2], landmarks[:, 2] > 0)
        bins_x, bins_y = self.codec.bins
        simcc_x = np.full((self.config.num_groups, bins_x), 1.0 / bins_x, np.float32)
        simcc_y = np.full((self.config.num_groups, bins_y), 1.0 / bins_y, np.float32)
        weights = np.zeros(self.config.num_groups, np.float32)
        simcc_x[groups], simcc_y[groups], weights[groups] = target_x, target_y, weight
        return {"simcc_x": simcc_x, "simcc_y": simcc_y, "weight": weights}

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        pixels, landmarks = self.prepare(index)
        category = self.samples[self.items[index][0]].record.garments[self.items[index][1]].category
        targets = self.targets(landmarks, DF2.group_of[category.slice])
        image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        return image, {name: torch.from_numpy(value) for name, value in targets.items()}


class HeatmapCropDataset(CropDataset):
    """The CSPN model's items: the same crops, with ``{"heatmaps" (G, h, w), "weight" (G,)}`` targets
    (:class:`~garmentcli.models.heatmap.HeatmapCodec`; the maps of other groups empty, weight 0)."""

    def targets(self, landmarks: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
        maps, weight = self.codec.encode(landmarks[:, :2], landmarks[:, 2] > 0)
        width, height = self.codec.size
        heatmaps = np.zeros((self.config.num_groups, height, width), np.float32)
        weights = np.zeros(self.config.num_groups, np.float32)
        heatmaps[groups], weights[groups] = maps, weight
        return {"heatmaps": heatmaps, "weight": weights}
