"""Keypoint and box AP/AR against pycocotools (the official DeepFashion2 evaluator), number by number."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest

from garmentcli.metrics.coco import BOX_PARAMS, KEYPOINT_PARAMS, coco_evaluate
from garmentcli.metrics.evaluate import evaluate
from garmentcli.metrics.instances import instances_from_coco
from garmentcli.schema.layout import DF2

pytest.importorskip("pycocotools")
from metrics_data import make_ground_truth, make_results
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycocotools_eval(gt: dict, results: list[dict], kind: str, category_ids: list[int] | None = None) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco_gt, coco_dt, kind)
        if kind == "keypoints":
            evaluator.params.kpt_oks_sigmas = DF2.oks_sigmas
        if category_ids is not None:
            evaluator.params.catIds = category_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


@pytest.fixture(scope="module", params=[(0, True, False), (1, False, False), (2, True, True)], ids=str)
def case(request) -> tuple[dict, list[dict]]:
    seed, with_box, crowd = request.param
    rng = np.random.default_rng(seed)
    gt = make_ground_truth(rng, crowd=crowd)
    return gt, make_results(rng, gt, with_box)


@pytest.mark.parametrize("kind", ["keypoints", "bbox"])
def test_precision_recall_arrays_equal_pycocotools(case, kind):
    gt, results = case
    reference = pycocotools_eval(gt, results, kind)
    params = KEYPOINT_PARAMS if kind == "keypoints" else BOX_PARAMS
    ours = coco_evaluate(instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), params, DF2.oks_sigmas)
    np.testing.assert_allclose(ours.precision, reference.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.recall, reference.eval["recall"], rtol=0, atol=1e-12)
    assert list(ours.summarize().values()) == pytest.approx(reference.stats.tolist(), abs=1e-9)


@pytest.mark.parametrize(("kind", "section"), [("keypoints", "keypoints"), ("bbox", "bbox")])
def test_per_category_summaries_equal_pycocotools(case, kind, section):
    gt, results = case
    ours = evaluate(instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), per_category=True)
    present = sorted({a["category_id"] for a in gt["annotations"]})
    assert len(ours[section]["per_category"]) == len(present)
    for category_id in present:
        reference = pycocotools_eval(gt, results, kind, [category_id])
        numbers = ours[section]["per_category"][DF2.category(category_id).name]
        assert list(numbers.values()) == pytest.approx(reference.stats.tolist(), abs=1e-9), category_id


def test_empty_predictions_give_zeros():
    gt = make_ground_truth(np.random.default_rng(5), num_images=10)
    empty = instances_from_coco([], "pred")
    result = evaluate(instances_from_coco(gt, "gt"), empty)
    assert result["keypoints"]["AP"] == 0.0
    assert result["bbox"]["AP"] == 0.0
    assert result["bbox"]["AR100"] == 0.0
    assert result["counts"]["predictions"] == 0


def test_attribute_subset_equals_pycocotools_with_the_other_garments_ignored():
    """A breakdown slice is COCO evaluation with the other garments ignored (as an area range does);
    pycocotools ignores keypoint ground truth whose num_keypoints is 0, which marks them."""
    rng = np.random.default_rng(7)
    gt = make_ground_truth(rng)
    results = make_results(rng, gt, with_box=True)
    ours = evaluate(instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), by_attribute=True)
    marked = copy.deepcopy(gt)
    for ann in marked["annotations"]:
        if ann["occlusion"] != 3:
            ann["num_keypoints"] = 0
    reference = pycocotools_eval(marked, results, "keypoints")
    heavy = ours["keypoints"]["by_attribute"]["occlusion=heavy"]
    assert [heavy[k] for k in ("AP", "AP50", "AP75", "AR", "AR50", "AR75")] == pytest.approx(
        reference.stats[[0, 1, 2, 5, 6, 7]].tolist(), abs=1e-9
    )


def test_annotation_sets_from_the_readers_give_the_pycocotools_numbers(tmp_path):
    """The contract ``evaluate(gt_set, pred_set)`` as training uses it: sets read by ``read_annotations``."""
    from garmentcli.io.formats import read_annotations

    rng = np.random.default_rng(9)
    gt = make_ground_truth(rng, num_images=30)
    results = make_results(rng, gt, with_box=True)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    ours = evaluate(read_annotations(tmp_path / "gt.json"), read_annotations(tmp_path / "pred.json"))
    for section, kind in (("keypoints", "keypoints"), ("bbox", "bbox")):
        reference = pycocotools_eval(gt, results, kind)
        assert list(ours[section].values()) == pytest.approx(reference.stats.tolist(), abs=1e-9), section


def test_matching_edge_cases_equal_pycocotools():
    """Hand-made images where the matching rules decide the numbers: equal similarities (the later ground
    truth wins), a better-overlapping ignored garment (regular ground truth is preferred), crowds
    (matched repeatedly, their matches ignored), an annotation with id 0 (pycocotools counts a match
    to it as a false positive)."""

    def ann(ann_id, image_id, bbox, area=None, crowd=0):
        area = bbox[2] * bbox[3] if area is None else area
        return {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": bbox, "area": area, "iscrowd": crowd}

    gt = {
        "images": [{"id": i} for i in (1, 2, 3, 4)],
        "categories": [{"id": 1, "name": "short_sleeved_shirt"}],
        "annotations": [
            ann(1, 1, [0, 0, 10, 10]),
            ann(2, 1, [5, 0, 10, 10]),
            ann(3, 2, [0, 0, 10, 10]),
            ann(4, 2, [1, 0, 10, 10], area=5000),
            ann(5, 3, [0, 0, 100, 100], crowd=1),
            ann(6, 3, [200, 200, 50, 50]),
            ann(0, 4, [0, 0, 40, 40]),
        ],
    }
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [2.5, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},
        {"image_id": 2, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.7},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.6},
        {"image_id": 3, "category_id": 1, "bbox": [10, 10, 30, 30], "score": 0.95},
        {"image_id": 3, "category_id": 1, "bbox": [20, 10, 30, 30], "score": 0.85},
        {"image_id": 3, "category_id": 1, "bbox": [200, 200, 50, 50], "score": 0.5},
        {"image_id": 4, "category_id": 1, "bbox": [0, 0, 40, 40], "score": 0.75},
    ]
    reference = pycocotools_eval(gt, results, "bbox")
    ours = coco_evaluate(instances_from_coco(gt, "gt"), instances_from_coco(results, "pred"), BOX_PARAMS)
    np.testing.assert_allclose(ours.precision, reference.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.recall, reference.eval["recall"], rtol=0, atol=1e-12)
    assert list(ours.summarize().values()) == pytest.approx(reference.stats.tolist(), abs=1e-9)


def test_oks_of_every_pair_equals_pycocotools_compute_oks(case):
    """``oks_pairs`` (labelled landmarks gathered per pair) against ``COCOeval.ious``, image by image and category
    by category: the generated garments include unlabelled landmarks and garments with none labelled."""
    from garmentcli.metrics.similarity import oks_pairs

    gt, results = case
    reference = pycocotools_eval(gt, results, "keypoints")
    gt_i, pred_i = instances_from_coco(gt, "gt"), instances_from_coco(results, "pred")
    gt_row = {annotation["id"]: row for row, annotation in enumerate(gt["annotations"])}
    compared = 0
    for (image_id, category_id), ious in reference.ious.items():
        if len(ious) == 0:
            continue
        dts = reference._dts[image_id, category_id]
        order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: reference.params.maxDets[-1]]
        p = np.array([dts[i]["id"] - 1 for i in order])
        g = np.array([gt_row[a["id"]] for a in reference._gts[image_id, category_id]])
        pairs_p, pairs_g = np.repeat(p, len(g)), np.tile(g, len(p))
        ours = oks_pairs(pred_i.keypoints, gt_i.keypoints, gt_i.bbox, gt_i.area, DF2.oks_sigmas, pairs_p, pairs_g)
        np.testing.assert_allclose(ours.reshape(len(p), len(g)), ious, rtol=1e-12, atol=1e-15)
        compared += ious.size
    assert compared > 100
