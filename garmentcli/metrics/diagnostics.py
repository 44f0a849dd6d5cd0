"""Where predictions fail, for ``garmentkp eval --report``: per landmark, per threshold, per image.

Every figure here starts from the pairing of the landmark metrics
(:func:`~garmentcli.metrics.pairing.pair`: each usable ground-truth garment, not crowd and with
labelled landmarks, gets at most one prediction) and from the distances PCK uses (landmark to
ground truth, divided by the longer side of the ground-truth box), so the curves meet the
``eval`` figures: the PCK curve of a category at ``--pck-threshold`` is that category's PCK, and
the curve over all garments is the overall PCK.

* :attr:`Diagnostics.pck_curves`: PCK against the threshold, per category and overall (per-type
  accuracy averaged over landmark types, unpaired garments' landmarks counted wrong, as PCK).
* :attr:`Diagnostics.landmarks`: per category, each landmark's median normalised error (paired
  garments only), its miss rate (labelled landmarks not within the PCK threshold, unpaired garments
  included: one minus the landmark's PCK) and the category's typical layout to draw them on: the
  mean shape of its ground-truth garments (:func:`mean_shape`).
* :func:`image_quality`: one number per image for picking the worst and best ones: the mean OKS of
  its garments with their partners (0 for a garment without one), false detections counted as
  garments of OKS 0 (box IoU instead of OKS where there are no landmarks).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from garmentcli.metrics.landmarks import landmark_distances
from garmentcli.metrics.pairing import FLD_SIGMA, pair
from garmentcli.metrics.similarity import oks_pairs
from garmentcli.schema.fld import FLD_LANDMARKS
from garmentcli.schema.garments import category_name
from garmentcli.schema.layout import DF2, NUM_LANDMARKS

if TYPE_CHECKING:
    from garmentcli.metrics.confusion import Confusion
    from garmentcli.metrics.instances import Instances

CURVE_THRESHOLDS = np.round(np.linspace(0.0, 0.5, 51), 10)
"""Thresholds of the PCK curves (fractions of the box's longer side); the report's threshold is added."""
ALL = "all"


@dataclass
class LandmarkErrors:
    """One category's landmarks: where they typically lie and how wrong the predictions are."""

    category_id: int
    names: tuple[str, ...]
    outline: list[list[int]]
    """Outline polylines as landmark indices (empty for FLD)."""
    template: np.ndarray
    """``(K, 2)``: the category's mean shape (:func:`mean_shape`, x right, y down); NaN where never labelled."""
    median_error: np.ndarray
    """``(K,)`` median distance / the box's longer side over paired garments; NaN where nothing was measured."""
    miss_rate: np.ndarray
    """``(K,)`` labelled landmarks not within the PCK threshold (unpaired garments included); NaN where none."""
    labelled: np.ndarray
    """``(K,)`` labelled landmarks counted."""
    garments: int
    paired: int

    @property
    def name(self) -> str:
        return category_name(self.category_id)


@dataclass
class Diagnostics:
    pairing: str
    """The rule the pairing used (``"oks"`` or ``"id"``)."""
    partner: np.ndarray
    """Per ground-truth row: the paired prediction row, or -1."""
    usable: np.ndarray
    """Ground-truth rows the landmark figures count."""
    oks: np.ndarray
    """Per ground-truth row: OKS with its partner (0 without one); NaN for rows that are not usable."""
    pck_threshold: float
    thresholds: np.ndarray
    pck_curves: dict[str, np.ndarray]
    """``"all"`` and each category name present -> PCK at each of :attr:`thresholds`."""
    landmarks: list[LandmarkErrors]


def _accuracy_per_type(distances: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``(T, K)`` per-type accuracy at each threshold; -1 for types without valid landmarks (as
    :func:`~garmentcli.metrics.landmarks.distance_accuracy`)."""
    valid = distances != -1
    counts = valid.sum(axis=0)
    with np.errstate(invalid="ignore"):
        correct = ((distances[None] < thresholds[:, None, None]) & valid[None]).sum(axis=1)
    return np.where(counts > 0, correct / np.maximum(counts, 1), -1.0)


def _mean_over_types(per_type: np.ndarray) -> np.ndarray:
    """``(T,)`` mean over types with valid landmarks, 0 when none (as the PCK of ``eval``)."""
    counted = per_type >= 0
    total = np.where(counted, per_type, 0.0).sum(axis=1)
    number = counted.sum(axis=1)
    return np.where(number > 0, total / np.maximum(number, 1), 0.0)


def _sigmas(width: int) -> np.ndarray:
    return np.full(width, FLD_SIGMA) if width != NUM_LANDMARKS else DF2.oks_sigmas


def _category_layout(category_id: int, width: int) -> tuple[slice, tuple[str, ...], list[list[int]]]:
    if width != NUM_LANDMARKS:
        return slice(None), tuple(FLD_LANDMARKS), []
    category = DF2.category(category_id)
    return category.slice, category.landmarks, category.outline_indices()


def diagnose(gt: Instances, pred: Instances, pairing: str = "auto", pck_threshold: float = 0.2) -> Diagnostics | None:
    """The figures of the module docstring; None when either side carries no landmarks."""
    if pred.keypoints is None and len(pred) == 0 and gt.keypoints is not None:  # no predictions: all missed
        pred = dataclasses.replace(pred, keypoints=np.zeros((0, *gt.keypoints.shape[1:])))
    if gt.keypoints is None or pred.keypoints is None or pred.keypoints.shape[1] != gt.keypoints.shape[1]:
        return None
    width = gt.keypoints.shape[1]
    partner, rule = pair(gt, pred, pairing)
    labelled_any = np.any(gt.keypoints[..., 2] > 0, axis=1)
    usable = np.flatnonzero(~gt.iscrowd & labelled_any & np.isin(gt.image_id, gt.image_ids))
    oks = np.full(len(gt), np.nan)
    oks[usable] = 0.0
    paired_rows = usable[partner[usable] >= 0]
    if len(paired_rows):
        oks[paired_rows] = oks_pairs(
            pred.keypoints, gt.keypoints, gt.bbox, gt.area, _sigmas(width), partner[paired_rows], paired_rows
        )
    thresholds = np.unique(np.r_[CURVE_THRESHOLDS, pck_threshold])
    at_threshold = int(np.flatnonzero(thresholds == pck_threshold)[0])
    curves: dict[str, np.ndarray] = {}
    all_types: list[np.ndarray] = []
    landmarks: list[LandmarkErrors] = []
    categories = gt.category_id[usable]
    for category_id in np.unique(categories).tolist():
        rows = usable[categories == category_id]
        columns, names, outline = _category_layout(category_id, width)
        points = gt.keypoints[rows][:, columns]
        labelled = points[..., 2] > 0
        mate = partner[rows]
        paired = mate >= 0
        guessed = np.full((*points.shape[:2], 2), np.nan)
        if paired.any():
            guessed[paired] = pred.keypoints[mate[paired]][:, columns, :2]
        longer = gt.bbox[rows, 2:].max(axis=1)
        distances = landmark_distances(guessed, points[..., :2], labelled, np.repeat(longer[:, None], 2, axis=1))
        per_type = _accuracy_per_type(distances, thresholds)
        all_types.append(per_type)
        curves[category_name(category_id)] = _mean_over_types(per_type)
        measured = np.where((distances >= 0) & paired[:, None], distances, np.nan)
        landmarks.append(
            LandmarkErrors(
                category_id=category_id,
                names=names,
                outline=outline,
                template=mean_shape(points[..., :2], labelled, gt.bbox[rows]),
                median_error=_nanmedian(measured),
                miss_rate=np.where(per_type[at_threshold] >= 0, 1 - per_type[at_threshold], np.nan),
                labelled=labelled.sum(axis=0),
                garments=len(rows),
                paired=int(paired.sum()),
            )
        )
    if width != NUM_LANDMARKS and landmarks:
        curves[ALL] = _fld_overall(gt, pred, usable, partner, thresholds)
    else:
        curves[ALL] = _mean_over_types(np.concatenate(all_types, axis=1)) if all_types else np.zeros(len(thresholds))
    return Diagnostics(rule, partner, usable, oks, pck_threshold, thresholds, curves, landmarks)


def _fld_overall(
    gt: Instances, pred: Instances, usable: np.ndarray, partner: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """FLD's landmark types are the 8 slots shared by all its categories: one block over every garment."""
    points = gt.keypoints[usable]
    mate = partner[usable]
    guessed = np.full((*points.shape[:2], 2), np.nan)
    guessed[mate >= 0] = pred.keypoints[mate[mate >= 0], :, :2]
    longer = gt.bbox[usable, 2:].max(axis=1)
    distances = landmark_distances(guessed, points[..., :2], points[..., 2] > 0, np.repeat(longer[:, None], 2, axis=1))
    return _mean_over_types(_accuracy_per_type(distances, thresholds))


SHAPE_ITERATIONS = 6


def _align(shapes: np.ndarray, weights: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each of ``shapes`` ``(n, K)`` (complex x + iy) moved, turned and scaled onto ``reference`` ``(K,)`` by
    weighted least squares over the landmarks of ``weights`` ``(n, K)`` (0/1) that the reference has."""
    w = weights * np.isfinite(reference)[None]
    ref = np.nan_to_num(reference)
    z = np.nan_to_num(shapes)
    total = np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    z_centre = (w * z).sum(axis=1, keepdims=True) / total
    r_centre = (w * ref[None]).sum(axis=1, keepdims=True) / total
    zc, rc = z - z_centre, ref[None] - r_centre
    denominator = (w * np.abs(zc) ** 2).sum(axis=1, keepdims=True)
    factor = (w * np.conj(zc) * rc).sum(axis=1, keepdims=True) / np.maximum(denominator, 1e-12)
    aligned = factor * zc + r_centre
    return np.where(weights > 0, aligned, np.nan)


def mean_shape(points: np.ndarray, labelled: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The mean shape ``(K, 2)`` of garments ``points`` ``(n, K, 2)`` (their ``labelled`` landmarks), as
    generalised Procrustes analysis finds it: start from the median position of each landmark in its box
    (scaled by the median box size), then align every garment to the mean by a rotation, scale and shift
    (no mirroring) and average again, a few times. NaN for landmarks never labelled."""
    scale = np.median(boxes[:, 2:], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = (points - boxes[:, None, :2]) / boxes[:, None, 2:] * scale
    relative[~labelled] = np.nan
    reference = _nanmedian(relative)
    shapes = points[..., 0] + 1j * points[..., 1]
    weights = labelled.astype(float)
    mean = reference[:, 0] + 1j * reference[:, 1]
    for _ in range(SHAPE_ITERATIONS):
        if not np.isfinite(mean).any():
            break
        aligned = _align(shapes, weights, mean)
        counts = weights.sum(axis=0)
        summed = np.where(weights > 0, aligned, 0).sum(axis=0)
        updated = np.where(counts > 0, summed / np.maximum(counts, 1), np.nan)
        # keep the frame of the start (upright, box-sized): align the new mean onto the old one
        mean = _align(updated[None], np.isfinite(updated)[None].astype(float), mean)[0]
    return np.stack([mean.real, mean.imag], axis=1)


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """Median over the first axis ignoring NaN; NaN (without a warning) where a column has nothing."""
    out = np.full(values.shape[1:], np.nan)
    has = ~np.all(np.isnan(values), axis=0)
    if has.any():
        out[has] = np.nanmedian(values[:, has], axis=0)
    return out


@dataclass
class ImageQuality:
    """Per ground-truth image: how well its garments were found (see :func:`image_quality`)."""

    image_id: np.ndarray
    quality: np.ndarray
    """Mean similarity of garments (missed: 0) and false detections (0); NaN for an image with neither."""
    garments: np.ndarray
    missed: np.ndarray
    false: np.ndarray

    def worst(self, count: int) -> np.ndarray:
        """Indices of the ``count`` lowest-quality images (more garments first on ties)."""
        rated = np.flatnonzero(~np.isnan(self.quality))
        order = np.lexsort((self.image_id[rated], -(self.garments[rated] + self.false[rated]), self.quality[rated]))
        return rated[order[:count]]

    def best(self, count: int, excluding: np.ndarray) -> np.ndarray:
        """Indices of the ``count`` highest-quality images with garments (quality above 0), leaving out
        ``excluding``."""
        rated = np.flatnonzero(~np.isnan(self.quality) & (self.garments > 0) & (self.quality > 0))
        rated = rated[~np.isin(rated, excluding)]
        order = np.lexsort((self.image_id[rated], -self.garments[rated], -self.quality[rated]))
        return rated[order[:count]]


def image_quality(gt: Instances, pred: Instances, confusion: Confusion, found: Diagnostics | None) -> ImageQuality:
    """Per image of the ground truth: OKS of each usable garment with its partner (box IoU with its
    same-category box match when there are no landmarks), missed garments and false detections
    (confident predictions matching no garment, from ``confusion``) as 0; the mean of those."""
    image_ids = gt.image_ids
    if found is not None:
        rows = found.usable
        similarity = found.oks[rows]
        missed = found.partner[rows] < 0
    else:
        rows = np.flatnonzero(~gt.iscrowd & np.isin(gt.image_id, image_ids) & np.isin(gt.category_id, gt.category_ids))
        mate = confusion.gt_match[rows]
        guessed = pred.category_id[mate.clip(0)] if len(pred) else np.zeros(len(rows), dtype=np.int64)
        same = (mate >= 0) & (guessed == gt.category_id[rows])
        similarity = np.where(same, confusion.iou[rows], 0.0)
        missed = ~same
    index = np.searchsorted(image_ids, gt.image_id[rows])
    total = np.bincount(index, weights=similarity, minlength=len(image_ids))
    garments = np.bincount(index, minlength=len(image_ids))
    missed_count = np.bincount(index, weights=missed, minlength=len(image_ids)).astype(np.int64)
    false_rows = np.flatnonzero(confusion.pred_match == -1)
    false = np.bincount(np.searchsorted(image_ids, pred.image_id[false_rows]), minlength=len(image_ids))
    counted = garments + false
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.where(counted > 0, total / counted, np.nan)
    return ImageQuality(image_ids, quality, garments, missed_count, false)
