"""PCK, AUC, EPE, NE and CSPN NE over a whole set, overall, per category and per attribute value.

The unit is a ground-truth garment that is not crowd and has labelled landmarks, paired with a
prediction (:mod:`garmentcli.metrics.pairing`). PCK and AUC count the labelled landmarks of
unpaired garments as wrong; EPE and the NEs measure paired garments only (-1 when there is
nothing to measure: no pairs, no image sizes, no CSPN reference landmarks). PCK/AUC/EPE use the
labelled landmarks (v > 0), the NEs the visible ones (v = 2), as FLD defines NE. Landmark types
are the columns of the landmark vector (the 294 DeepFashion2 positions, or the 8 FLD slots); a
DeepFashion2 garment is scored on its own category's landmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from garmentcli.metrics.breakdown import attribute_groups, category_groups
from garmentcli.metrics.instances import FLD_WIDTH, Instances
from garmentcli.metrics.landmarks import distance_accuracy, epe, landmark_distances, nme, pck
from garmentcli.metrics.pairing import pair
from garmentcli.schema.fld import FLD_CATEGORY_IDS, FLD_LANDMARKS, df2_names_for
from garmentcli.schema.layout import DF2

LANDMARK_METRICS = ("pck", "auc", "epe", "ne")
FLD_LOWER_BODY = FLD_CATEGORY_IDS[2]
"""FLD clothes_type 2 (lower body): its CSPN reference is the waistline."""
SLEEVES = (FLD_LANDMARKS.index("left_sleeve"), FLD_LANDMARKS.index("right_sleeve"))
WAISTLINE = (FLD_LANDMARKS.index("left_waistline"), FLD_LANDMARKS.index("right_waistline"))


def _reference_columns(category_id: int, width: int) -> tuple[list[int], list[int]] | None:
    """Vector columns whose means give CSPN's two reference points: the sleeves (tops, full body) or the
    waistline (bottoms). DeepFashion2 categories use the landmarks FLD's points map to."""
    if width == FLD_WIDTH:
        left, right = WAISTLINE if category_id == FLD_LOWER_BODY else SLEEVES
        return [left], [right]
    category = DF2.category(category_id)
    for left, right in (SLEEVES, WAISTLINE):
        names = df2_names_for(FLD_LANDMARKS[left], category), df2_names_for(FLD_LANDMARKS[right], category)
        if names[0] and names[1]:
            return [category.offset + category.index[n] for n in names[0]], [
                category.offset + category.index[n] for n in names[1]
            ]
    return None


def cspn_norm(gt: Instances) -> np.ndarray:
    """``(N, 2)`` CSPN normaliser: the distance between the ground truth's two reference points (0 if unlabelled)."""
    width = gt.keypoints.shape[1]
    out = np.zeros(len(gt))
    for category_id in np.unique(gt.category_id):
        columns = _reference_columns(int(category_id), width)
        if columns is None:
            continue
        rows = np.flatnonzero(gt.category_id == category_id)
        points = [gt.keypoints[rows[:, None], cols] for cols in columns]
        labelled = np.all(points[0][..., 2] > 0, axis=1) & np.all(points[1][..., 2] > 0, axis=1)
        gap = np.linalg.norm(points[0][..., :2].mean(axis=1) - points[1][..., :2].mean(axis=1), axis=1)
        out[rows] = np.where(labelled, gap, 0.0)
    return np.repeat(out[:, None], 2, axis=1)


@dataclass(frozen=True)
class _Block:
    """Usable ground-truth garments whose landmarks share columns, with their partners' landmarks.

    A DeepFashion2 garment's landmarks sit in its category's slice, so there is one block per
    category, a few dozen columns wide instead of 294; landmark types of different blocks are
    distinct, so per-type accuracies of blocks are simply put side by side. FLD: one block.
    """

    rows: np.ndarray
    """Positions among the usable garments (for selecting groups)."""
    pred: np.ndarray
    """``(n, K, 2)``; NaN where unpaired."""
    gt: np.ndarray
    visibility: np.ndarray
    paired: np.ndarray
    box_norm: np.ndarray
    image_norm: np.ndarray
    reference_norm: np.ndarray


@dataclass
class _Totals:
    """Per-type accuracies and distance sums gathered over blocks."""

    pck: list[np.ndarray] = field(default_factory=list)
    auc: list[list[np.ndarray]] = field(default_factory=list)
    sums: dict[str, list[float]] = field(default_factory=dict)

    def add_mean(self, name: str, mean: float, count: int) -> None:
        total = self.sums.setdefault(name, [0.0, 0])
        total[0] += mean * count
        total[1] += count

    def mean(self, name: str) -> float:
        total, count = self.sums.get(name, (0.0, 0))
        return total / count if count else -1.0


def _mean_accuracy(per_type: list[np.ndarray]) -> float:
    """mmpose's average over landmark types with any valid landmark (0 when none)."""
    values = np.concatenate(per_type) if per_type else np.zeros(0)
    counted = values[values >= 0]
    return float(counted.mean()) if counted.size else 0.0


def _scores(
    keys: Sequence[str],
    blocks: list[_Block],
    group: np.ndarray,
    pck_threshold: float,
    auc_norm: float,
    auc_thresholds: int,
) -> dict[str, float]:
    """The metrics of ``keys`` over the garments of ``group`` (a boolean mask over usable garments)."""
    totals = _Totals(auc=[[] for _ in range(auc_thresholds)])
    for block in blocks:
        rows = group[block.rows]
        if not rows.any():
            continue
        pred, gt, visibility = block.pred[rows], block.gt[rows], block.visibility[rows]
        labelled = visibility > 0
        paired = block.paired[rows, None]
        if "pck" in keys:
            totals.pck.append(pck(pred, gt, labelled, pck_threshold, block.box_norm[rows])[0])
        if "auc" in keys:
            distances = landmark_distances(pred, gt, labelled, np.full((len(pred), 2), auc_norm))
            for i in range(auc_thresholds):
                totals.auc[i].append(distance_accuracy(distances, i / auc_thresholds)[0])
        if "epe" in keys:
            measured = labelled & paired
            totals.add_mean("EPE", epe(pred, gt, measured), int(measured.sum()))
        if "ne" in keys:
            for name, norm in (("NE", block.image_norm[rows]), ("NE_cspn", block.reference_norm[rows])):
                counted = (visibility == 2) & paired & np.all(norm > 0, axis=1)[:, None]
                totals.add_mean(name, nme(pred, gt, counted, norm), int(counted.sum()))
    out: dict[str, float] = {}
    if "pck" in keys:
        out[f"PCK@{pck_threshold:g}"] = _mean_accuracy(totals.pck)
    if "auc" in keys:
        out["AUC"] = sum(_mean_accuracy(per_type) for per_type in totals.auc) / auc_thresholds
    if "epe" in keys:
        out["EPE"] = totals.mean("EPE")
    if "ne" in keys:
        out["NE"], out["NE_cspn"] = totals.mean("NE"), totals.mean("NE_cspn")
    return out


def _pair_up(gt: Instances, pred: Instances, pairing: str) -> tuple[list[_Block], np.ndarray, np.ndarray, str]:
    """Blocks of the usable ground truth (not crowd, with labelled landmarks) with their partners;
    the usable rows, which of them are paired, and the pairing rule used."""
    partner, rule = pair(gt, pred, pairing)
    usable = np.flatnonzero(~gt.iscrowd & np.any(gt.keypoints[..., 2] > 0, axis=1) & np.isin(gt.image_id, gt.image_ids))
    partner = partner[usable]
    width = gt.keypoints.shape[1]
    if pred.keypoints is None or pred.keypoints.shape[1] != width:
        partner[:] = -1
    categories = gt.category_id[usable]
    sizes = np.array([gt.image_size.get(int(i), (0, 0)) for i in gt.image_id[usable]], dtype=np.float64)
    sizes = sizes.reshape(-1, 2)
    reference = cspn_norm(gt)[usable]
    if width == FLD_WIDTH:
        layout = [(np.arange(len(usable)), slice(None))]
    else:
        layout = [(np.flatnonzero(categories == c), DF2.category(int(c)).slice) for c in np.unique(categories)]
    blocks = []
    for rows, columns in layout:
        points = gt.keypoints[usable[rows], columns]
        mate = partner[rows]
        paired = mate >= 0
        pred_points = np.full((*points.shape[:2], 2), np.nan)
        if paired.any():
            pred_points[paired] = pred.keypoints[mate[paired], columns, :2]
        longer_side = gt.bbox[usable[rows], 2:].max(axis=1)
        blocks.append(
            _Block(
                rows=rows,
                pred=pred_points,
                gt=points[..., :2],
                visibility=points[..., 2],
                paired=paired,
                box_norm=np.repeat(longer_side[:, None], 2, axis=1),
                image_norm=sizes[rows],
                reference_norm=reference[rows],
            )
        )
    return blocks, usable, partner >= 0, rule


def landmark_metrics(
    gt: Instances,
    pred: Instances,
    keys: Sequence[str] = LANDMARK_METRICS,
    per_category: bool = False,
    by_attribute: bool = False,
    pairing: str = "auto",
    pck_threshold: float = 0.2,
    auc_norm: float = 30.0,
    auc_thresholds: int = 20,
) -> dict[str, Any]:
    """The landmark metrics of ``keys`` (see :data:`LANDMARK_METRICS`), with pairing counts.

    For DeepFashion2 ground truth only the landmarks of a garment's own category are scored.
    """
    if gt.keypoints is None:
        return {"pairing": None, "garments": 0, "paired": 0}
    blocks, usable, paired, rule = _pair_up(gt, pred, pairing)
    options = (pck_threshold, auc_norm, auc_thresholds)
    out: dict[str, Any] = {"pairing": rule, "garments": len(usable), "paired": int(paired.sum())}
    out.update(_scores(keys, blocks, np.ones(len(usable), dtype=bool), *options))
    if per_category:
        out["per_category"] = {
            name: _scores(keys, blocks, mask, *options) for name, mask in category_groups(gt.category_id[usable])
        }
    if by_attribute:
        attributes = {key: values[usable] for key, values in gt.attributes.items()}
        out["by_attribute"] = {
            label: _scores(keys, blocks, mask, *options) for label, mask in attribute_groups(attributes)
        }
    return out
