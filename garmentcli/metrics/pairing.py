"""Which prediction stands for which ground-truth garment, for the landmark-only metrics (PCK, EPE, NE …).

* ``"oks"`` (detections): the rule of keypoint AP. Per image and predicted category, predictions
  in score order (at most 20) each take the free ground truth of that category with the highest
  OKS (> 0), preferring garments with labelled landmarks, exactly as ``COCOeval`` matches.
* ``"id"`` (top-down predictions made from the ground-truth boxes): a prediction carries the id
  of the ground-truth annotation it was made for; the best-scored one per annotation counts.
* ``"auto"``: ``"id"`` when every prediction carries the id of a ground-truth garment of its image
  and category, ``"oks"`` otherwise.
"""

from __future__ import annotations

import numpy as np

from garmentcli.errors import InputError
from garmentcli.io.columnar import FLD_WIDTH, Instances
from garmentcli.metrics.coco import KEYPOINT_PARAMS, match_predictions
from garmentcli.metrics.similarity import oks_pairs
from garmentcli.schema.layout import DF2

PAIRINGS = ("auto", "oks", "id")
FLD_SIGMA = float(np.mean(DF2.oks_sigmas))
"""FLD has no published OKS sigmas: pairing FLD garments uses the mean DeepFashion2 sigma for all 8 slots."""
_ANY_OVERLAP = np.array([np.finfo(np.float64).tiny])


def _id_keys(inst: Instances) -> np.ndarray:
    return inst.image_id.astype(np.int64) * (2**31) + inst.ann_id


def _same_annotation(gt: Instances, pred: Instances) -> bool:
    """Whether every prediction names (image id, annotation id) of a ground-truth garment of its own category."""
    if not pred.has_ids or len(pred) == 0 or len(gt) == 0:
        return False
    gt_keys, pred_keys = _id_keys(gt), _id_keys(pred)
    order = np.argsort(gt_keys, kind="stable")
    at = np.minimum(np.searchsorted(gt_keys[order], pred_keys), len(gt) - 1)
    rows = order[at]
    return bool(np.all(gt_keys[rows] == pred_keys) and np.all(gt.category_id[rows] == pred.category_id))


def resolve_pairing(gt: Instances, pred: Instances, pairing: str) -> str:
    """The pairing rule to use (``"auto"`` resolved)."""
    if pairing not in PAIRINGS:
        raise InputError(f"unknown pairing {pairing!r} (choose from {', '.join(PAIRINGS)})")
    if pairing != "auto":
        return pairing
    return "id" if _same_annotation(gt, pred) else "oks"


def pair_by_id(gt: Instances, pred: Instances) -> np.ndarray:
    """For each ground-truth row, the best-scored prediction row with its image and annotation id, or -1."""
    if not pred.has_ids:
        raise InputError("pairing by annotation id needs predictions that carry the ground-truth 'id'")
    if len(pred) == 0:
        return np.full(len(gt), -1, dtype=np.int64)
    gt_keys, pred_keys = _id_keys(gt), _id_keys(pred)
    order = np.lexsort((-pred.score, pred_keys))
    keys = pred_keys[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    best_rows, best_keys = order[first], keys[first]
    at = np.minimum(np.searchsorted(best_keys, gt_keys), len(best_keys) - 1)
    return np.where(best_keys[at] == gt_keys, best_rows[at], -1)


def pair_by_oks(gt: Instances, pred: Instances) -> np.ndarray:
    """For each ground-truth row, the prediction the keypoint-AP matching gives it at any OKS > 0, or -1."""
    if gt.keypoints is None or pred.keypoints is None or len(pred) == 0:
        return np.full(len(gt), -1, dtype=np.int64)
    width = gt.keypoints.shape[1]
    sigmas = np.full(width, FLD_SIGMA) if width == FLD_WIDTH else DF2.oks_sigmas
    ignored = (gt.iscrowd | (gt.num_keypoints == 0))[:, None]

    def similarity(p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return oks_pairs(pred.keypoints, gt.keypoints, gt.bbox, gt.area, sigmas, p, g)

    found = match_predictions(gt, pred, similarity, ignored, _ANY_OVERLAP, KEYPOINT_PARAMS.max_dets[-1])
    gt_row = found.gt_match[:, 0, 0]
    paired = np.full(len(gt), -1, dtype=np.int64)
    hit = gt_row >= 0
    paired[gt_row[hit]] = found.pred_rows[hit]
    return paired


def pair(gt: Instances, pred: Instances, pairing: str = "auto") -> tuple[np.ndarray, str]:
    """``(prediction row per ground-truth row or -1, the rule used)``."""
    rule = resolve_pairing(gt, pred, pairing)
    return (pair_by_id(gt, pred) if rule == "id" else pair_by_oks(gt, pred)), rule
