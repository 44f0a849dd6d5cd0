"""Pairwise similarities between predictions and ground truth: OKS and box IoU, for index pairs.

Both take the rows to compare as two index arrays (one entry per pair) and return one value per
pair, with exactly the arithmetic of pycocotools (``COCOeval.computeOks``, ``maskUtils.iou``), so
matching decisions equal the official evaluator's.
"""

from __future__ import annotations

import numpy as np

CHUNK = 4096
"""Pairs handled per step of :func:`oks_pairs` (bounds the temporary arrays to a few MB)."""


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
    """
    variances = (sigmas * 2) ** 2
    out = np.empty(len(pred_rows))
    for start in range(0, len(pred_rows), CHUNK):
        p_rows, g_rows = pred_rows[start : start + CHUNK], gt_rows[start : start + CHUNK]
        pred, gt, box = pred_keypoints[p_rows], gt_keypoints[g_rows], gt_bbox[g_rows]
        labelled = gt[..., 2] > 0
        count = labelled.sum(axis=1)
        dx = pred[..., 0] - gt[..., 0]
        dy = pred[..., 1] - gt[..., 1]
        unlabelled = count == 0
        if unlabelled.any():
            x0 = (box[:, 0] - box[:, 2])[:, None]
            x1 = (box[:, 0] + box[:, 2] * 2)[:, None]
            y0 = (box[:, 1] - box[:, 3])[:, None]
            y1 = (box[:, 1] + box[:, 3] * 2)[:, None]
            px, py = pred[unlabelled, :, 0], pred[unlabelled, :, 1]
            dx[unlabelled] = np.maximum(0, x0[unlabelled] - px) + np.maximum(0, px - x1[unlabelled])
            dy[unlabelled] = np.maximum(0, y0[unlabelled] - py) + np.maximum(0, py - y1[unlabelled])
            labelled[unlabelled] = True
        e = (dx**2 + dy**2) / variances / (gt_area[g_rows, None] + np.spacing(1)) / 2
        out[start : start + CHUNK] = np.where(labelled, np.exp(-e), 0.0).sum(axis=1) / labelled.sum(axis=1)
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
