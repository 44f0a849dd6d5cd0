"""PCK, AUC, EPE, NE, CSPN NE and the pairing rules, against loop-based reference implementations."""

from __future__ import annotations

import contextlib
import copy
import io
import math

import numpy as np
import pytest
from metrics_data import make_ground_truth, make_results

from garmentcli.metrics.evaluate import evaluate
from garmentcli.metrics.instances import instances_from_coco
from garmentcli.metrics.landmarks import auc, epe, nme, pck
from garmentcli.metrics.pairing import pair
from garmentcli.schema.fld import df2_to_fld
from garmentcli.schema.layout import DF2, NUM_LANDMARKS

BOTTOMS = {"shorts", "trousers", "skirt"}
SLEEVE_SLOTS, WAISTLINE_SLOTS = (2, 3), (4, 5)


def reference_pck(pred, gt, mask, threshold, norm):
    """mmpose's definition, one landmark at a time: accuracy per type, then the mean over types."""
    accuracies = []
    for k in range(gt.shape[1]):
        valid = correct = 0
        for n in range(gt.shape[0]):
            if not mask[n, k] or norm[n, 0] <= 0 or norm[n, 1] <= 0:
                continue
            valid += 1
            d = math.hypot((pred[n, k, 0] - gt[n, k, 0]) / norm[n, 0], (pred[n, k, 1] - gt[n, k, 1]) / norm[n, 1])
            correct += d < threshold
        if valid:
            accuracies.append(correct / valid)
    return sum(accuracies) / len(accuracies) if accuracies else 0.0


def reference_mean_distance(pred, gt, mask, norm):
    total, count = 0.0, 0
    for n in range(gt.shape[0]):
        for k in range(gt.shape[1]):
            if mask[n, k] and norm[n, 0] > 0 and norm[n, 1] > 0:
                total += math.hypot(
                    (pred[n, k, 0] - gt[n, k, 0]) / norm[n, 0], (pred[n, k, 1] - gt[n, k, 1]) / norm[n, 1]
                )
                count += 1
    return total / count if count else -1.0


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(3)
    gt = rng.uniform(0, 200, size=(40, 9, 2))
    pred = gt + rng.normal(0, 12, size=gt.shape)
    pred[5] = np.nan  # a missing prediction
    mask = rng.uniform(size=(40, 9)) < 0.7
    mask[:, 4] = False  # a landmark type nobody labelled
    norm = rng.uniform(20, 120, size=(40, 2))
    norm[7] = 0  # an instance without a usable normaliser
    return pred, gt, mask, norm


def test_pck_and_auc_equal_the_loop_reference(arrays):
    pred, gt, mask, norm = arrays
    per_type, mean, types = pck(pred, gt, mask, 0.2, norm)
    assert mean == pytest.approx(reference_pck(pred, gt, mask, 0.2, norm), abs=1e-12)
    assert types == 8
    assert per_type[4] == -1
    expected_auc = sum(reference_pck(pred, gt, mask, i / 20, np.full_like(norm, 30.0)) for i in range(20)) / 20
    assert auc(pred, gt, mask, 30.0, 20) == pytest.approx(expected_auc, abs=1e-12)


def test_epe_and_nme_equal_the_loop_reference(arrays):
    pred, gt, mask, norm = arrays
    measured = mask.copy()
    measured[5] = False
    assert epe(pred, gt, measured) == pytest.approx(reference_mean_distance(pred, gt, measured, np.ones_like(norm)))
    assert nme(pred, gt, measured, norm) == pytest.approx(reference_mean_distance(pred, gt, measured, norm), abs=1e-12)


def test_pck_counts_a_distance_exactly_at_the_threshold_as_wrong():
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[20.0, 0.0], [19.0, 0.0]]])
    assert pck(pred, gt, np.ones((1, 2), bool), 0.2, np.full((1, 2), 100.0))[1] == 0.5


def pycocotools_pairs(gt: dict, results: list[dict]) -> dict[int, int]:
    """pycocotools' keypoint matching at a threshold just above 0: ground-truth id -> result position."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "keypoints")
        evaluator.params.kpt_oks_sigmas = DF2.oks_sigmas
        evaluator.params.iouThrs = np.array([np.finfo(np.float64).tiny])
        evaluator.params.areaRng = [[0, 1e10]]
        evaluator.evaluate()
    pairs = {}
    for image in evaluator.evalImgs:
        if image is None:
            continue
        for dt_id, gt_id in zip(image["dtIds"], image["dtMatches"][0], strict=True):
            if gt_id > 0:
                pairs[int(gt_id)] = dt_id - 1
    return pairs


@pytest.fixture(scope="module")
def detections():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(11)
    gt = make_ground_truth(rng, num_images=50)
    return gt, make_results(rng, gt, with_box=False)


def test_oks_pairing_is_the_keypoint_ap_matching(detections):
    gt, results = detections
    gt_i, pred_i = instances_from_coco(gt, "gt"), instances_from_coco(results, "pred")
    partner, rule = pair(gt_i, pred_i, "auto")
    assert rule == "oks"
    ours = {int(gt_i.ann_id[row]): int(p) for row, p in enumerate(partner) if p >= 0}
    assert ours == pycocotools_pairs(gt, results)
    assert len(ours) > 20


def reference_landmark_metrics(gt: dict, results: list[dict], pairs: dict[int, int]) -> dict[str, float]:
    """The landmark metrics garment by garment, from the COCO dicts."""
    rows = []
    for ann in gt["annotations"]:
        points = np.array(ann["keypoints"], dtype=float).reshape(NUM_LANDMARKS, 3)
        if ann["iscrowd"] or not np.any(points[:, 2] > 0):
            continue
        partner = pairs.get(ann["id"])
        pred = np.full((NUM_LANDMARKS, 2), np.nan)
        if partner is not None:
            pred = np.array(results[partner]["keypoints"], dtype=float).reshape(NUM_LANDMARKS, 3)[:, :2]
        category = DF2.category(ann["category_id"])
        fld = df2_to_fld(points[category.slice], category.id)
        left, right = WAISTLINE_SLOTS if category.name in BOTTOMS else SLEEVE_SLOTS
        reference = 0.0
        if fld[left, 2] > 0 and fld[right, 2] > 0:
            reference = math.dist(fld[left, :2], fld[right, :2])
        rows.append((points, pred, partner is not None, max(ann["bbox"][2:]), reference))
    gt_xy = np.array([r[0][:, :2] for r in rows])
    v = np.array([r[0][:, 2] for r in rows])
    pred = np.array([r[1] for r in rows])
    paired = np.array([r[2] for r in rows])[:, None]
    box = np.array([[r[3], r[3]] for r in rows])
    reference = np.array([[r[4], r[4]] for r in rows])
    image = np.full_like(box, 0.0)
    image[:] = (800, 600)
    return {
        "PCK@0.2": reference_pck(pred, gt_xy, v > 0, 0.2, box),
        "AUC": sum(reference_pck(pred, gt_xy, v > 0, i / 20, np.full_like(box, 30.0)) for i in range(20)) / 20,
        "EPE": reference_mean_distance(pred, gt_xy, (v > 0) & paired, np.ones_like(box)),
        "NE": reference_mean_distance(pred, gt_xy, (v == 2) & paired, image),
        "NE_cspn": reference_mean_distance(pred, gt_xy, (v == 2) & paired, reference),
    }


def test_landmark_metrics_equal_the_reference_with_ap_pairing(detections):
    gt, results = detections
    ours = evaluate(
        instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), metrics=("pck", "auc", "epe", "ne")
    )["landmarks"]
    expected = reference_landmark_metrics(gt, results, pycocotools_pairs(gt, results))
    assert {k: ours[k] for k in expected} == pytest.approx(expected, abs=1e-9)
    assert ours["pairing"] == "oks"


def test_per_category_landmark_metrics_equal_the_reference_on_each_category(detections):
    gt, results = detections
    ours = evaluate(
        instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), metrics=("pck", "epe"), per_category=True
    )["landmarks"]["per_category"]
    pairs = pycocotools_pairs(gt, results)
    for name, numbers in ours.items():
        only = dict(gt, annotations=[a for a in gt["annotations"] if DF2.category(a["category_id"]).name == name])
        expected = reference_landmark_metrics(only, results, pairs)
        assert numbers["PCK@0.2"] == pytest.approx(expected["PCK@0.2"], abs=1e-9), name
        assert numbers["EPE"] == pytest.approx(expected["EPE"], abs=1e-9), name


def test_top_down_predictions_pair_by_annotation_id(detections):
    """Predictions carrying the ground-truth id pair with it even when another garment is closer."""
    gt, _ = detections
    rng = np.random.default_rng(2)
    results = []
    for ann in gt["annotations"]:
        points = np.array(ann["keypoints"], dtype=float).reshape(NUM_LANDMARKS, 3)
        points[:, :2] += rng.normal(0, 4, (NUM_LANDMARKS, 2))
        results.append(dict(ann, keypoints=points.ravel().tolist(), score=0.9))
    results.append(dict(results[0], score=0.1, keypoints=[0.0] * 882))  # a worse duplicate: the best score counts
    gt_i, pred_i = instances_from_coco(gt, "gt"), instances_from_coco(results, "pred")
    partner, rule = pair(gt_i, pred_i, "auto")
    assert rule == "id"
    assert partner.tolist() == list(range(len(gt["annotations"])))
    ours = evaluate(gt_i, pred_i, metrics=("epe",))["landmarks"]
    by_id = {ann["id"]: row for row, ann in enumerate(gt["annotations"])}
    assert ours["EPE"] == pytest.approx(reference_landmark_metrics(gt, results, by_id)["EPE"], abs=1e-9)


def test_no_predictions_make_pck_zero_and_distances_undefined(detections):
    gt, _ = detections
    ours = evaluate(instances_from_coco(gt, "gt"), instances_from_coco([], "pred"), metrics=("pck", "epe", "ne"))
    assert ours["landmarks"]["PCK@0.2"] == 0.0
    assert ours["landmarks"]["EPE"] == -1.0
    assert ours["landmarks"]["paired"] == 0


def test_attribute_breakdown_equals_the_reference_on_each_subset(detections):
    gt, results = detections
    ours = evaluate(
        instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), metrics=("pck", "ne"), by_attribute=True
    )["landmarks"]["by_attribute"]
    pairs = pycocotools_pairs(gt, results)
    assert len(ours) == 12
    for label, key, value in (("occlusion=heavy", "occlusion", 3), ("viewpoint=frontal", "viewpoint", 2)):
        only = dict(gt, annotations=[a for a in gt["annotations"] if a[key] == value])
        expected = reference_landmark_metrics(only, results, pairs)
        assert ours[label]["PCK@0.2"] == pytest.approx(expected["PCK@0.2"], abs=1e-9), label
        assert ours[label]["NE"] == pytest.approx(expected["NE"], abs=1e-9), label
