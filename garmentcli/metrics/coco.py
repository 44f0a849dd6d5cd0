"""COCO average precision and recall (keypoints with OKS, boxes with IoU), vectorised, equal to pycocotools.

The semantics are those of ``pycocotools.cocoeval.COCOeval`` step by step:

* per image and category, predictions sorted by score (stable, file order breaking ties) and cut at
  the largest ``maxDets``; ground truth flagged *ignore* when crowd, when it has no labelled
  landmark (keypoints), or when outside the area range (or the attribute subset) being evaluated;
* greedy matching in score order at each threshold: a prediction takes the unmatched regular ground
  truth of highest similarity ≥ threshold (the last one in file order on ties), and only when there is
  none an ignored one (crowds may be matched repeatedly); a prediction matched to ignored ground truth
  is ignored, as is an unmatched prediction whose own area is outside the range;
* per category, range and ``maxDets``: predictions of all images sorted by score (stable; image id,
  then rank within the image, breaking ties), cumulative TP/FP, precision made monotone, sampled at 101
  recall points (``searchsorted`` left); -1 where a category has no regular ground truth;
* summaries are means over the entries > -1, as ``COCOeval.summarize``.

Instead of a Python loop per image, images are processed all at once, bucketed by their number of
predictions and ground truths, with the greedy step vectorised over images, ranges and thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from garmentcli.metrics.instances import Instances
from garmentcli.metrics.similarity import box_iou_pairs, oks_pairs

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
ALL_AREAS = (0.0, 1e5**2)


@dataclass(frozen=True)
class CocoParams:
    """What COCOeval's ``Params`` holds for one ``iouType``, plus the summary lines it prints."""

    kind: str
    """``"keypoints"`` (OKS) or ``"bbox"`` (IoU)."""
    max_dets: tuple[int, ...]
    area_ranges: dict[str, tuple[float, float]]
    summary: tuple[tuple[str, bool, float | None, str, int], ...]
    """``(name, is_precision, threshold or None for the mean, area label, maxDets)`` per reported number."""


KEYPOINT_PARAMS = CocoParams(
    kind="keypoints",
    max_dets=(20,),
    area_ranges={"all": ALL_AREAS, "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)},
    summary=(
        ("AP", True, None, "all", 20),
        ("AP50", True, 0.5, "all", 20),
        ("AP75", True, 0.75, "all", 20),
        ("APm", True, None, "medium", 20),
        ("APl", True, None, "large", 20),
        ("AR", False, None, "all", 20),
        ("AR50", False, 0.5, "all", 20),
        ("AR75", False, 0.75, "all", 20),
        ("ARm", False, None, "medium", 20),
        ("ARl", False, None, "large", 20),
    ),
)

BOX_PARAMS = CocoParams(
    kind="bbox",
    max_dets=(1, 10, 100),
    area_ranges={"all": ALL_AREAS, "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)},
    summary=(
        ("AP", True, None, "all", 100),
        ("AP50", True, 0.5, "all", 100),
        ("AP75", True, 0.75, "all", 100),
        ("APs", True, None, "small", 100),
        ("APm", True, None, "medium", 100),
        ("APl", True, None, "large", 100),
        ("AR1", False, None, "all", 1),
        ("AR10", False, None, "all", 10),
        ("AR100", False, None, "all", 100),
        ("ARs", False, None, "small", 100),
        ("ARm", False, None, "medium", 100),
        ("ARl", False, None, "large", 100),
    ),
)


@dataclass(frozen=True)
class Subset:
    """A slice of the evaluation (COCO's area range, generalised): which ground truth and predictions it leaves out."""

    label: str
    gt_out: np.ndarray
    """Ground truth outside the subset (treated as ignored)."""
    pred_out: np.ndarray
    """Predictions ignored when they match nothing."""


@dataclass
class CocoResult:
    """COCOeval's ``eval`` arrays: precision ``(T, R, K, S, M)`` and recall ``(T, K, S, M)``."""

    params: CocoParams
    category_ids: np.ndarray
    subsets: tuple[str, ...]
    precision: np.ndarray
    recall: np.ndarray

    def summarize(self, category_id: int | None = None, subset: str | None = None) -> dict[str, float]:
        """The summary numbers (``COCOeval.summarize``), overall or for one category.

        With ``subset`` (an attribute slice), the "all"-area lines are reported for that slice instead.
        """
        k = slice(None) if category_id is None else [int(np.flatnonzero(self.category_ids == category_id)[0])]
        out = {}
        for name, is_precision, threshold, area, max_det in self.params.summary:
            if subset is not None and area != "all":
                continue
            s_index = self.subsets.index(subset or area)
            m_index = self.params.max_dets.index(max_det)
            values = self.precision if is_precision else self.recall
            if threshold is not None:
                values = values[np.where(threshold == IOU_THRESHOLDS)[0]]
            values = values[:, :, k, s_index, m_index] if is_precision else values[:, k, s_index, m_index]
            valid = values[values > -1]
            out[name] = float(np.mean(valid)) if valid.size else -1.0
        return out


def area_subsets(params: CocoParams, gt: Instances, pred: Instances) -> list[Subset]:
    """COCO's area ranges as subsets (bounds inclusive, as pycocotools)."""
    return [
        Subset(label, (gt.area < lo) | (gt.area > hi), (pred.area < lo) | (pred.area > hi))
        for label, (lo, hi) in params.area_ranges.items()
    ]


def _known_rows(inst: Instances, image_ids: np.ndarray, category_ids: np.ndarray) -> np.ndarray:
    return np.isin(inst.image_id, image_ids) & np.isin(inst.category_id, category_ids)


def _greedy_match(sim: np.ndarray, gt_ignored: np.ndarray, crowd: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """COCOeval.evaluateImg's matching for ``n`` images at once.

    ``sim`` ``(n, D, G)`` (predictions in score order), ``gt_ignored`` ``(n, S, G)``, ``crowd`` ``(n, G)``.
    Returns ``(n, D, S, T)``: the ground truth (0..G-1) each prediction matched, or -1.
    """
    n, num_pred, num_gt = sim.shape
    limits = np.minimum(thresholds, 1 - 1e-10)[None, None, :, None]
    regular = ~gt_ignored[:, :, None, :]
    reusable = crowd[:, None, None, :]
    gt_index = np.arange(num_gt)
    taken = np.zeros((n, gt_ignored.shape[1], len(thresholds), num_gt), dtype=bool)
    match = np.full((n, num_pred, gt_ignored.shape[1], len(thresholds)), -1, dtype=np.int64)
    for d in range(num_pred):
        s = sim[:, d, None, None, :]
        eligible = (s >= limits) & (~taken | reusable)
        eligible_regular = eligible & regular
        candidates = np.where(eligible_regular.any(axis=-1, keepdims=True), eligible_regular, eligible)
        best = num_gt - 1 - np.argmax(np.where(candidates, s, -np.inf)[..., ::-1], axis=-1)
        hit = candidates.any(axis=-1)
        match[:, d] = np.where(hit, best, -1)
        taken |= (gt_index == best[..., None]) & hit[..., None]
    return match


@dataclass
class Matching:
    """Predictions kept for matching (per image and category, by score, cut at maxDets) and what they matched."""

    pred_rows: np.ndarray
    """Rows of the prediction set, grouped by image and category, best score first."""
    pred_image: np.ndarray
    """Index of each prediction's image in the ground truth's ``image_ids``."""
    rank: np.ndarray
    """Position of each prediction within its image and category."""
    gt_match: np.ndarray
    """``(P, S, T)`` ground-truth row matched per subset and threshold, or -1."""


def match_predictions(
    gt: Instances,
    pred: Instances,
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray],
    gt_ignored: np.ndarray,
    thresholds: np.ndarray,
    max_det: int,
) -> Matching:
    """Group by image and category, sort, cut and greedily match, as ``COCOeval.evaluate``.

    ``similarity(pred_rows, gt_rows)`` scores pairs; ``gt_ignored`` is ``(len(gt), S)``. Images and
    categories are those of ``gt``; predictions and ground truth elsewhere are left out.
    """
    gt_keep = np.flatnonzero(_known_rows(gt, gt.image_ids, gt.category_ids))
    pred_keep = np.flatnonzero(_known_rows(pred, gt.image_ids, gt.category_ids))
    num_cat = len(gt.category_ids)
    gt_group = np.searchsorted(gt.image_ids, gt.image_id[gt_keep]) * num_cat + np.searchsorted(
        gt.category_ids, gt.category_id[gt_keep]
    )
    order = np.lexsort((gt_keep, gt_group))
    gt_rows, gt_group = gt_keep[order], gt_group[order]

    pred_image = np.searchsorted(gt.image_ids, pred.image_id[pred_keep])
    pred_group = pred_image * num_cat + np.searchsorted(gt.category_ids, pred.category_id[pred_keep])
    order = np.lexsort((pred_keep, -pred.score[pred_keep], pred_group))
    pred_rows, pred_group, pred_image = pred_keep[order], pred_group[order], pred_image[order]
    rank = np.arange(len(pred_rows)) - np.searchsorted(pred_group, pred_group, side="left")
    cut = rank < max_det
    pred_rows, pred_group, pred_image, rank = pred_rows[cut], pred_group[cut], pred_image[cut], rank[cut]

    gt_match = np.full((len(pred_rows), gt_ignored.shape[1], len(thresholds)), -1, dtype=np.int64)
    groups, pred_start, pred_count = np.unique(pred_group, return_index=True, return_counts=True)
    gt_start = np.searchsorted(gt_group, groups, side="left")
    gt_count = np.searchsorted(gt_group, groups, side="right") - gt_start
    both = np.flatnonzero(gt_count > 0)
    sizes = np.stack([pred_count[both], gt_count[both]], axis=1)
    for num_pred, num_gt in np.unique(sizes, axis=0) if len(sizes) else []:
        pick = both[(sizes[:, 0] == num_pred) & (sizes[:, 1] == num_gt)]
        p_pos = pred_start[pick][:, None] + np.arange(num_pred)
        g_rows = gt_rows[gt_start[pick][:, None] + np.arange(num_gt)]
        sim = similarity(np.repeat(pred_rows[p_pos], num_gt, axis=1).ravel(), np.tile(g_rows, (1, num_pred)).ravel())
        sim = sim.reshape(len(pick), num_pred, num_gt)
        local = _greedy_match(sim, gt_ignored[g_rows].transpose(0, 2, 1), gt.iscrowd[g_rows], thresholds)
        rows_of_local = g_rows[np.arange(len(pick))[:, None, None, None], local.clip(0)]
        gt_match[p_pos] = np.where(local >= 0, rows_of_local, -1)
    return Matching(pred_rows, pred_image, rank, gt_match)


def _similarity(
    params: CocoParams, gt: Instances, pred: Instances, sigmas: np.ndarray | None
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f(pred_rows, gt_rows) -> similarity`` for the kind of evaluation."""
    if params.kind == "keypoints":
        if pred.keypoints is None or gt.keypoints is None:
            raise ValueError("keypoint evaluation needs landmarks in both ground truth and predictions")
        if sigmas is None or len(sigmas) != gt.keypoints.shape[1] or pred.keypoints.shape[1] != len(sigmas):
            raise ValueError("keypoint evaluation needs one OKS sigma per landmark slot")
        return lambda p, g: oks_pairs(pred.keypoints, gt.keypoints, gt.bbox, gt.area, sigmas, p, g)
    return lambda p, g: box_iou_pairs(pred.bbox[p], gt.bbox[g], gt.iscrowd[g])


def coco_evaluate(
    gt: Instances,
    pred: Instances,
    params: CocoParams,
    sigmas: np.ndarray | None = None,
    extra_subsets: tuple[Subset, ...] = (),
) -> CocoResult:
    """Evaluate ``pred`` against ``gt`` as ``COCOeval(evaluate, accumulate)`` does.

    Images are those of ``gt.image_ids`` and categories ``gt.category_ids``; predictions and ground
    truth elsewhere are left out (the caller warns about them). ``extra_subsets`` add slices besides
    the area ranges (attribute breakdowns); their masks index the full ``gt`` / ``pred`` rows.
    """
    subsets = [*area_subsets(params, gt, pred), *extra_subsets]
    base_ignored = gt.iscrowd.copy()
    if params.kind == "keypoints":
        base_ignored |= gt.num_keypoints == 0
    gt_ignored = base_ignored[:, None] | np.stack([s.gt_out for s in subsets], axis=1)
    found = match_predictions(
        gt, pred, _similarity(params, gt, pred, sigmas), gt_ignored, IOU_THRESHOLDS, params.max_dets[-1]
    )
    pred_rows = found.pred_rows
    subset_index = np.arange(len(subsets))[None, :, None]
    matched_ignored = (found.gt_match >= 0) & gt_ignored[found.gt_match.clip(0), subset_index]
    # pycocotools records a match as the ground truth's id, so a match to an annotation with id 0 counts as none
    matched = (found.gt_match >= 0) & (gt.ann_id[found.gt_match.clip(0)] != 0)
    pred_out = np.stack([s.pred_out[pred_rows] for s in subsets], axis=1)
    ignored = matched_ignored | (~matched & pred_out[:, :, None])
    gt_rows = np.flatnonzero(_known_rows(gt, gt.image_ids, gt.category_ids))
    precision, recall = _accumulate(
        params,
        gt.category_id[gt_rows],
        gt_ignored[gt_rows],
        gt.category_ids,
        pred.category_id[pred_rows],
        pred.score[pred_rows],
        found.pred_image,
        found.rank,
        matched,
        ignored,
    )
    return CocoResult(params, gt.category_ids, tuple(s.label for s in subsets), precision, recall)


def _accumulate(
    params: CocoParams,
    gt_category: np.ndarray,
    gt_ignored: np.ndarray,
    category_ids: np.ndarray,
    pred_category: np.ndarray,
    pred_score: np.ndarray,
    pred_image: np.ndarray,
    rank: np.ndarray,
    matched: np.ndarray,
    ignored: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate: precision ``(T, R, K, S, M)`` and recall ``(T, K, S, M)``, -1 where undefined."""
    num_thr, num_rec, num_subsets = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), gt_ignored.shape[1]
    shape = (num_thr, len(category_ids), num_subsets, len(params.max_dets))
    precision = -np.ones((num_thr, num_rec, *shape[1:]))
    recall = -np.ones(shape)
    order = np.lexsort((rank, pred_image, -pred_score))
    for k, category_id in enumerate(category_ids):
        regular_count = np.count_nonzero(~gt_ignored[gt_category == category_id], axis=0)
        in_category = order[pred_category[order] == category_id]
        for m, max_det in enumerate(params.max_dets):
            rows = in_category[rank[in_category] < max_det]
            counted = ~ignored[rows].transpose(1, 2, 0)
            hits = matched[rows].transpose(1, 2, 0)
            tp_sum = np.cumsum(hits & counted, axis=-1).astype(dtype=float)
            fp_sum = np.cumsum(~hits & counted, axis=-1).astype(dtype=float)
            num_det = len(rows)
            for s in np.flatnonzero(regular_count):
                tp, fp = tp_sum[s], fp_sum[s]
                rc = tp / regular_count[s]
                pr = tp / (fp + tp + np.spacing(1))
                envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                if not num_det:
                    recall[:, k, s, m] = 0
                    precision[:, :, k, s, m] = 0
                    continue
                recall[:, k, s, m] = rc[:, -1]
                for t in range(num_thr):
                    at = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                    inside = at < num_det
                    precision[t, :, k, s, m] = np.where(inside, envelope[t, np.minimum(at, num_det - 1)], 0.0)
    return precision, recall
