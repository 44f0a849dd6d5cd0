"""The columnar loader: the fast JSON path equals a plain parse, and derived fields follow pycocotools."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
from metrics_data import make_ground_truth, make_results

from garmentcli.io.fastjson import parse_coco_bytes
from garmentcli.io.formats import read_annotations
from garmentcli.metrics.instances import instances_from_coco, instances_from_set, load_instances
from garmentcli.schema.layout import NUM_LANDMARKS


@pytest.fixture(scope="module")
def coco():
    rng = np.random.default_rng(4)
    gt = make_ground_truth(rng, num_images=20)
    return gt, make_results(rng, gt, with_box=False)


@pytest.mark.parametrize("indent", [None, 2])
def test_fast_parse_equals_a_plain_json_parse_bit_for_bit(coco, indent):
    gt, _ = coco
    odd = copy.deepcopy(gt)
    odd["annotations"][0]["keypoints"][:6] = [1e-3, -0.5, 7, 2.5e2, 0.1, 123456.789012345]
    text = json.dumps(odd, indent=indent).encode()
    document, matrix = parse_coco_bytes(text, "gt.json")
    assert matrix is not None
    assert [a["keypoints"] for a in document["annotations"]] == list(range(len(odd["annotations"])))
    fast = instances_from_coco(document, "gt.json", keypoints=matrix)
    plain = instances_from_coco(json.loads(text), "gt.json")
    np.testing.assert_array_equal(fast.keypoints, plain.keypoints)
    assert fast.keypoints[0, :2].ravel().tolist() == [1e-3, -0.5, 7, 2.5e2, 0.1, 123456.789012345]
    assert document["categories"][0]["keypoints"][:2] == ["1", "2"]  # string arrays are left alone


def test_arrays_of_another_length_take_the_plain_path_and_are_reported(coco, tmp_path):
    _, results = coco
    broken = copy.deepcopy(results)
    broken[4]["keypoints"] = broken[4]["keypoints"][:30]
    broken[6]["keypoints"][10] = None
    broken[7]["keypoints"][11] = "x"
    broken[8]["keypoints"] = 0  # an integer is not a vector, even where the fast path leaves row numbers
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(broken))
    messages: list[str] = []
    loaded = load_instances(path, messages.append)
    assert messages == [
        f"{path}: result #4: 'keypoints' has 30 values, expected 882",
        f"{path}: result #6: NaN or infinite coordinate",
        f"{path}: result #7: 'keypoints' holds something that is not a number",
        f"{path}: result #8: 'keypoints' has no list of values, expected 882",
    ]
    assert len(loaded) == len(results) - 4
    kept = [r["keypoints"] for i, r in enumerate(results) if i not in (4, 6, 7, 8)]
    expected = np.array(kept).reshape(-1, 294, 3)
    np.testing.assert_array_equal(loaded.keypoints, expected)


def loadres_annotations(gt: dict, results: list[dict]) -> list[dict]:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        return coco_gt.loadRes(copy.deepcopy(results)).dataset["annotations"]


@pytest.mark.parametrize("with_box", [False, True])
def test_result_boxes_and_areas_are_those_of_pycocotools_loadres(coco, with_box):
    gt, _ = coco
    results = make_results(np.random.default_rng(8), gt, with_box=with_box)
    ours = instances_from_coco(results, "pred.json")
    reference = loadres_annotations(gt, results)
    np.testing.assert_array_equal(ours.area, [r["area"] for r in reference])
    np.testing.assert_array_equal(ours.bbox, [r["bbox"] for r in reference])
    np.testing.assert_array_equal(ours.ann_id, [r["id"] for r in reference])


def test_ground_truth_fields_come_from_the_file(coco):
    gt, _ = coco
    edited = copy.deepcopy(gt)
    edited["annotations"][0].update(area=12.5, iscrowd=1, num_keypoints=0)
    loaded = instances_from_coco(edited, "gt.json")
    assert (loaded.area[0], loaded.iscrowd[0], loaded.num_keypoints[0]) == (12.5, True, 0)
    assert loaded.image_size[gt["images"][0]["id"]] == (800, 600)
    assert set(loaded.attributes) == {"scale", "occlusion", "zoom_in", "viewpoint"}
    assert sorted(loaded.image_ids.tolist()) == sorted(i["id"] for i in gt["images"])


def test_annotation_set_columns_equal_the_coco_columns(coco, tmp_path):
    gt, _ = coco
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    from_file = load_instances(path)
    from_set = instances_from_set(read_annotations(path))
    order = np.lexsort((from_set.ann_id, from_set.image_id))
    reference = np.lexsort((from_file.ann_id, from_file.image_id))
    for field in ("image_id", "category_id", "bbox", "area", "keypoints", "num_keypoints", "iscrowd"):
        np.testing.assert_array_equal(getattr(from_set, field)[order], getattr(from_file, field)[reference], field)
    np.testing.assert_array_equal(from_set.image_ids, from_file.image_ids)


def test_fld_coco_is_read_through_the_format_readers(real_data):
    loaded = load_instances(real_data / "fld" / "fld_coco.json")
    assert loaded.keypoints.shape[1:] == (8, 3)
    assert set(loaded.category_id.tolist()) <= {101, 102, 103}


def test_real_deepfashion2_coco_takes_the_fast_path(real_data):
    path = real_data / "deepfashion2" / "deepfashion2_coco.json"
    document, matrix = parse_coco_bytes(path.read_bytes(), str(path))
    assert matrix.shape == (len(document["annotations"]), 3 * NUM_LANDMARKS)
    loaded = load_instances(path)
    assert loaded.num_keypoints.tolist() == [a["num_keypoints"] for a in json.loads(path.read_text())["annotations"]]


def test_rows_with_zero_runs_parse_exactly():
    """Zero runs at the ends of a row are counted, not parsed: every spelling and boundary case stays exact."""
    rows = [
        "0.0,0.0,1.5,2,0.0,0.0",
        "0.0,0.0,0.0,0.0,0.0,0.0",
        "0,0,0.5,10.0,0,0",
        "-0.0,0.0,0.0,7,0.0,-0.0",
        "0.0,0,1,0.0,0.0,0",
        "1e1,0.0,0.0,0.0,0.0,2.5E-3",
        "0.00,1,2,3,4,0.0",
        "3,1,4,1,5,9",
    ]
    text = "[" + ",".join(f'{{"image_id":1,"category_id":1,"keypoints":[{r}]}}' for r in rows) + "]"
    document, matrix = parse_coco_bytes(text.encode(), "rows.json")
    expected = np.array([json.loads(f"[{r}]") for r in rows], dtype=np.float64)
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(np.signbit(matrix), np.signbit(expected))
    assert [entry["keypoints"] for entry in document] == list(range(len(rows)))
