"""Pairwise similarities between predictions and ground truth: OKS and box IoU, for index pairs.

Both take the rows to compare as two index arrays (one entry per pair) and return one value per
pair, with exactly the arithmetic of pycocotools (``COCOeval.computeOks``, ``maskUtils.iou``), so
matching decisions equal the official evaluator's.
"""

from __future__ import annotations

import numpy as np

CHUNK = 4096
"""Pairs with unlabelled ground truth handled per step of :func:`oks_pairs` (bounds the temporary arrays to a few
MB)."""


def oks_pairs(
    pred_keypoints: np.ndarray,
    gt_keypoints: np.ndarray,
    gt_bbox: np.ndarray,
    gt_area: np.ndarray,
    sigmas: np.ndarray,
    pred_rows: np.ndarray,
    gt_rows: np.ndarray,
) -> np.ndarray:
    """Object keypoint similarity of each pair ``(pred_rows[i], gt_rows[i])``.

    Ground truth with labelled landmarks (v > 0): the mean over those landmarks of
    ``exp(-d² / (2 · area · (2σ)²))``. Ground truth with none: the same over all landmarks, with
    ``d`` the distance of the predicted point outside the ground-truth box doubled around its centre.

    A DeepFashion2 vector has 294 slots and a garment labels at most its category's few dozen, so
    labelled ground truth is scored on its labelled landmarks only (gathered per pair, as
    ``COCOeval.computeOks`` keeps ``e[vg > 0]``); each pair's value depends on that pair alone.
    """
    variances = (sigmas * 2) ** 2
    out = np.empty(len(pred_rows))
    rows, inverse = np.unique(gt_rows, return_inverse=True)
    row_of_point, slot = np.nonzero(gt_keypoints[rows, :, 2] > 0)
    count = np.bincount(row_of_point, minlength=len(rows))
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    pair_count = count[inverse]
    labelled = np.flatnonzero(pair_count)
    if len(labelled):
        lengths = pair_count[labelled]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        point = np.repeat(first[inverse[labelled]] - starts, lengths) + np.arange(int(lengths.sum()))
        j = slot[point]
        p, g = np.repeat(pred_rows[labelled], lengths), np.repeat(gt_rows[labelled], lengths)
        dx = pred_keypoints[p, j, 0] - gt_keypoints[g, j, 0]
        dy = pred_keypoints[p, j, 1] - gt_keypoints[g, j, 1]
        e = (dx**2 + dy**2) / variances[j] / (gt_area[g] + np.spacing(1)) / 2
        out[labelled] = np.add.reduceat(np.exp(-e), starts) / lengths
    unlabelled = np.flatnonzero(pair_count == 0)
    for start in range(0, len(unlabelled), CHUNK):
        pairs = unlabelled[start : start + CHUNK]
        pred, box = pred_keypoints[pred_rows[pairs]], gt_bbox[gt_rows[pairs]]
        x0, x1 = (box[:, 0] - box[:, 2])[:, None], (box[:, 0] + box[:, 2] * 2)[:, None]
        y0, y1 = (box[:, 1] - box[:, 3])[:, None], (box[:, 1] + box[:, 3] * 2)[:, None]
        px, py = pred[..., 0], pred[..., 1]
        dx = np.maximum(0, x0 - px) + np.maximum(0, px - x1)
        dy = np.maximum(0, y0 - py) + np.maximum(0, py - y1)
        e = (dx**2 + dy**2) / variances / (gt_area[gt_rows[pairs], None] + np.spacing(1)) / 2
        out[pairs] = np.exp(-e).mean(axis=1)
    return out


def box_iou_pairs(pred_bbox: np.ndarray, gt_bbox: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
    """IoU of paired ``x, y, w, h`` boxes; for crowd ground truth, intersection over the predicted area."""
    w = np.minimum(pred_bbox[:, 2] + pred_bbox[:, 0], gt_bbox[:, 2] + gt_bbox[:, 0]) - np.maximum(
        pred_bbox[:, 0], gt_bbox[:, 0]
    )
    h = np.minimum(pred_bbox[:, 3] + pred_bbox[:, 1], gt_bbox[:, 3] + gt_bbox[:, 1]) - np.maximum(
        pred_bbox[:, 1], gt_bbox[:, 1]
    )
    inter = w * h
    pred_area = pred_bbox[:, 2] * pred_bbox[:, 3]
    union = np.where(gt_crowd, pred_area, pred_area + gt_bbox[:, 2] * gt_bbox[:, 3] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)
