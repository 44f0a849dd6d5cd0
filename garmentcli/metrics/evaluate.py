"""``evaluate(gt, pred)``: every metric of ``garmentkp eval`` in one dict, for the CLI and for training.

Keypoint AP/AR are the official DeepFashion2 numbers (COCO OKS with the 294 DeepFashion2 sigmas,
maxDets 20), box AP/AR the COCO box numbers; both equal pycocotools. The landmark metrics (PCK,
AUC, EPE, NE) pair predictions with ground truth first (see :mod:`garmentcli.metrics.pairing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from garmentcli.choices import METRICS
from garmentcli.errors import InputError
from garmentcli.metrics.breakdown import attribute_groups
from garmentcli.metrics.coco import (
    ALL_AREAS,
    BOX_PARAMS,
    KEYPOINT_PARAMS,
    CocoParams,
    CocoResult,
    Subset,
    coco_evaluate,
)
from garmentcli.metrics.instances import FLD_WIDTH, Instances, instances_from_set
from garmentcli.metrics.landmark_summary import landmark_metrics
from garmentcli.schema.garments import category_name
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet

AP_METRICS = {"ap": ("keypoints", KEYPOINT_PARAMS), "box": ("bbox", BOX_PARAMS)}


def as_instances(data: AnnotationSet | Instances) -> Instances:
    return data if isinstance(data, Instances) else instances_from_set(data)


def input_counts(gt: Instances, pred: Instances) -> dict[str, int]:
    """How many predictions the evaluation can use, and how many it leaves out and why."""
    known_image = np.isin(pred.image_id, gt.image_ids)
    known_category = np.isin(pred.category_id, gt.category_ids)
    return {
        "images": len(gt.image_ids),
        "ground_truth": len(gt),
        "predictions": len(pred),
        "predictions_unknown_image": int(np.count_nonzero(~known_image)),
        "predictions_unknown_category": int(np.count_nonzero(known_image & ~known_category)),
        "predictions_without_score": int(np.count_nonzero(np.isnan(pred.score))),
    }


def attribute_subsets(gt: Instances, pred: Instances) -> list[Subset]:
    """One subset per DeepFashion2 attribute value present in the ground truth (others' garments ignored)."""
    unmatched_out = (pred.area < ALL_AREAS[0]) | (pred.area > ALL_AREAS[1])
    return [Subset(label, ~inside, unmatched_out) for label, inside in attribute_groups(gt.attributes)]


def coco_summary(
    result: CocoResult, per_category: bool, subsets: Sequence[Subset], present: np.ndarray
) -> dict[str, Any]:
    """Summary numbers, per category (categories with ground truth) and per attribute subset when asked."""
    out: dict[str, Any] = result.summarize()
    if per_category:
        out["per_category"] = {category_name(int(c)): result.summarize(int(c)) for c in present}
    if subsets:
        out["by_attribute"] = {s.label: result.summarize(subset=s.label) for s in subsets}
    return out


def evaluate(
    gt: AnnotationSet | Instances,
    pred: AnnotationSet | Instances,
    metrics: Sequence[str] = ("ap", "box"),
    per_category: bool = False,
    by_attribute: bool = False,
    sigmas: np.ndarray | None = None,
    coco_results: dict[str, CocoResult] | None = None,
    **landmark_options: Any,
) -> dict[str, Any]:
    """Evaluate predictions against ground truth.

    Returns ``{"counts": {...}, "keypoints": {"AP", "AP50", "AP75", "APm", "APl", "AR", ...},
    "bbox": {"AP", "AP50", ..., "AR100", ...}, "landmarks": {...}}`` (the sections asked for by
    ``metrics``, a subset of :data:`METRICS`); -1 where COCO says -1 (no ground truth to score).
    ``per_category`` adds ``per_category`` tables, ``by_attribute`` ``by_attribute`` ones.
    ``sigmas`` overrides the OKS sigmas (default: the DeepFashion2 ones). ``landmark_options`` go to
    :func:`~garmentcli.metrics.landmark_summary.landmark_metrics` (``pairing``, ``pck_threshold`` …).
    ``coco_results``, when given, receives each AP section's :class:`CocoResult` (its precision and
    recall arrays, for precision-recall curves) under the section's name.
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)} (choose from {', '.join(METRICS)})")
    gt_i, pred_i = as_instances(gt), as_instances(pred)
    result: dict[str, Any] = {"counts": input_counts(gt_i, pred_i)}
    present = np.unique(gt_i.category_id[np.isin(gt_i.category_id, gt_i.category_ids)])
    for metric in metrics:
        if metric not in AP_METRICS:
            continue
        section, params = AP_METRICS[metric]
        subsets = attribute_subsets(gt_i, pred_i) if by_attribute else []
        coco = run_coco(gt_i, pred_i, params, sigmas, subsets)
        if coco_results is not None:
            coco_results[section] = coco
        result[section] = coco_summary(coco, per_category, subsets, present)
    landmark_keys = [m for m in metrics if m not in AP_METRICS]
    if landmark_keys:
        result["landmarks"] = landmark_metrics(
            gt_i, pred_i, landmark_keys, per_category=per_category, by_attribute=by_attribute, **landmark_options
        )
    return result


def run_coco(
    gt: Instances, pred: Instances, params: CocoParams, sigmas: np.ndarray | None, subsets: Sequence[Subset] = ()
) -> CocoResult:
    """:func:`coco_evaluate` with the layout's sigmas, and clear errors when the inputs cannot be scored."""
    if params.kind == "keypoints":
        if pred.keypoints is None and len(pred) == 0 and gt.keypoints is not None:
            pred = replace(pred, keypoints=np.zeros((0, *gt.keypoints.shape[1:])))
        if gt.keypoints is None or pred.keypoints is None:
            side = "ground truth" if gt.keypoints is None else "predictions"
            raise InputError(f"keypoint AP needs landmarks, but the {side} carry none (use --metrics box)")
        if sigmas is None:
            if gt.keypoints.shape[1] == FLD_WIDTH:
                raise InputError("keypoint AP is defined for DeepFashion2 categories (FLD has no OKS sigmas)")
            sigmas = DF2.oks_sigmas
        if pred.keypoints.shape[1] != gt.keypoints.shape[1]:
            raise InputError(
                f"predictions have {pred.keypoints.shape[1]} landmark slots, ground truth {gt.keypoints.shape[1]}"
            )
    return coco_evaluate(gt, pred, params, sigmas, tuple(subsets))
