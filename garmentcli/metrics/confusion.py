"""A category confusion matrix from garments matched by box IoU, whatever their categories.

Keypoint and box AP match a prediction only with ground truth of its own category, so a garment
called by the wrong name counts as a miss there and as a false detection elsewhere, and the AP
tables cannot say which names are confused. Here predictions (score at least ``score_threshold``)
are matched with the ground truth of their image by box IoU alone: pairs with IoU at least
``iou_threshold``, best IoU first (the better score, then file order, breaking ties), each
garment and each prediction used once. A matched pair adds one to ``(true category, predicted
category)``; a garment left over adds one to ``(its category, "missed")``, a prediction left over
to ``("false", its category)``. Crowd ground truth takes no part, and predictions on images or of
categories the ground truth does not know are left out, as in the AP figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from garmentcli.metrics.similarity import box_iou_pairs
from garmentcli.schema.garments import category_name

if TYPE_CHECKING:
    from garmentcli.metrics.instances import Instances

MISSED = "missed"
FALSE = "false"
IOU_THRESHOLD = 0.5
SCORE_THRESHOLD = 0.3
"""Predictions below this score take no part (a detector's low-score tail would all be "false")."""


@dataclass
class Confusion:
    """``matrix[i, j]``: garments of true category ``labels[i]`` predicted as ``labels[j]``.

    The last row is :data:`FALSE` (predictions that match no garment), the last column
    :data:`MISSED` (garments no prediction matches); ``matrix[-1, -1]`` is always 0.
    """

    category_ids: list[int]
    matrix: np.ndarray
    iou_threshold: float
    score_threshold: float
    gt_match: np.ndarray
    """Per ground-truth row: the matched prediction row, or -1 (also for crowd and left-out rows)."""
    pred_match: np.ndarray
    """Per prediction row: the matched ground-truth row, -1 when it matched nothing, -2 when it took no part."""
    iou: np.ndarray
    """Per ground-truth row: the IoU of its match (0 when none)."""

    @property
    def row_labels(self) -> list[str]:
        return [category_name(c) for c in self.category_ids] + [FALSE]

    @property
    def column_labels(self) -> list[str]:
        return [category_name(c) for c in self.category_ids] + [MISSED]

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{true label: {predicted label: count}}``, zeros left out."""
        out: dict[str, dict[str, int]] = {}
        for i, row in enumerate(self.row_labels):
            cells = {col: int(self.matrix[i, j]) for j, col in enumerate(self.column_labels) if self.matrix[i, j]}
            if cells:
                out[row] = cells
        return out


def candidate_pairs(
    gt_image: np.ndarray, pred_image: np.ndarray, gt_rows: np.ndarray, pred_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (prediction row, ground-truth row) on the same image, as two index arrays."""
    order = np.argsort(gt_image[gt_rows], kind="stable")
    sorted_rows = gt_rows[order]
    sorted_images = gt_image[sorted_rows]
    start = np.searchsorted(sorted_images, pred_image[pred_rows], side="left")
    count = np.searchsorted(sorted_images, pred_image[pred_rows], side="right") - start
    p = np.repeat(pred_rows, count)
    offsets = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    g = sorted_rows[np.repeat(start, count) + offsets]
    return p, g


def confusion_matrix(
    gt: Instances,
    pred: Instances,
    iou_threshold: float = IOU_THRESHOLD,
    score_threshold: float = SCORE_THRESHOLD,
) -> Confusion:
    """The confusion matrix of the categories present in the ground truth or the predictions (see the module)."""
    known = np.isin(gt.category_id, gt.category_ids) & np.isin(gt.image_id, gt.image_ids)
    gt_rows = np.flatnonzero(known & ~gt.iscrowd)
    score = np.nan_to_num(pred.score, nan=0.0)
    taking_part = (
        np.isin(pred.image_id, gt.image_ids) & np.isin(pred.category_id, gt.category_ids) & (score >= score_threshold)
    )
    pred_rows = np.flatnonzero(taking_part)
    category_ids = sorted({*gt.category_id[gt_rows].tolist(), *pred.category_id[pred_rows].tolist()})
    column = {c: i for i, c in enumerate(category_ids)}
    size = len(category_ids)
    matrix = np.zeros((size + 1, size + 1), dtype=np.int64)
    gt_match = np.full(len(gt), -1, dtype=np.int64)
    pred_match = np.full(len(pred), -2, dtype=np.int64)
    pred_match[pred_rows] = -1
    matched_iou = np.zeros(len(gt))

    p, g = candidate_pairs(gt.image_id, pred.image_id, gt_rows, pred_rows)
    iou = box_iou_pairs(pred.bbox[p], gt.bbox[g], gt.iscrowd[g]) if len(p) else np.zeros(0)
    keep = iou >= iou_threshold
    p, g, iou = p[keep], g[keep], iou[keep]
    for k in np.lexsort((p, -score[p], -iou)).tolist():
        if gt_match[g[k]] < 0 and pred_match[p[k]] == -1:
            gt_match[g[k]], pred_match[p[k]], matched_iou[g[k]] = p[k], g[k], iou[k]

    truth = np.array([column[c] for c in gt.category_id[gt_rows].tolist()], dtype=np.int64)
    found = gt_match[gt_rows]
    hit = found >= 0
    guessed = np.array([column[c] for c in pred.category_id[found[hit]].tolist()], dtype=np.int64)
    np.add.at(matrix, (truth[hit], guessed), 1)
    np.add.at(matrix, (truth[~hit], size), 1)
    false_rows = pred_rows[pred_match[pred_rows] == -1]
    np.add.at(matrix, (size, np.array([column[c] for c in pred.category_id[false_rows].tolist()], dtype=np.int64)), 1)
    return Confusion(category_ids, matrix, iou_threshold, score_threshold, gt_match, pred_match, matched_iou)
