import json

import numpy as np
import pytest
from io_samples import assert_sets_equal, coco_dict, result_list, sample_set

from garmentcli.errors import FormatError, InputError
from garmentcli.io.coco import read_coco, write_coco, write_results
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord


def _dump(path, data):
    path.write_text(json.dumps(data))
    return path


def _collect():
    messages = []
    return messages, messages.append


def test_coco_round_trip_is_lossless(tmp_path):
    original = sample_set()
    write_coco(original, tmp_path / "gt.json")
    assert_sets_equal(read_coco(tmp_path / "gt.json"), original)


def test_coco_dict_is_the_deepfashion2_form():
    data = coco_dict(sample_set())
    assert [c["id"] for c in data["categories"]] == list(range(1, 14))
    assert all(c["keypoints"] == [str(i) for i in range(1, 295)] for c in data["categories"])
    first = data["annotations"][0]
    vector = np.array(first["keypoints"]).reshape(294, 3)
    shirt = DF2.category(1)
    assert len(first["keypoints"]) == 882
    assert not vector[shirt.num_landmarks :].any()
    assert first["area"] == 300.0 * 310.75
    assert first["num_keypoints"] == int(np.count_nonzero(vector[:, 2]))
    assert first["iscrowd"] == 0
    assert first["pair_id"] == 7 and first["style"] == 1 and first["note"] == "hand labelled"
    assert data["images"][0]["source"] == "shop"
    assert [a["id"] for a in data["annotations"]] == [11, 12, 13]


def test_missing_and_duplicate_garment_ids_get_fresh_ones():
    aset = sample_set()
    aset.images[0].garments[1].id = None
    aset.images[1].garments[0].id = 11
    assert [a["id"] for a in coco_dict(aset)["annotations"]] == [11, 12, 13]


def test_pycocotools_loads_our_files_and_scores_perfect_predictions_1(tmp_path):
    coco_module = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    gt_set = sample_set()
    write_coco(gt_set, tmp_path / "gt.json")
    write_results(gt_set, tmp_path / "res.json")
    gt = coco_module.COCO(str(tmp_path / "gt.json"))
    assert len(gt.getAnnIds()) == 3 and gt.getImgIds() == [1, 2, 3]
    dt = gt.loadRes(str(tmp_path / "res.json"))
    evaluator = cocoeval.COCOeval(gt, dt, "keypoints")
    evaluator.params.kpt_oks_sigmas = DF2.oks_sigmas
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)


def test_real_deepfashion2_coco_with_stray_keys(real_data, tmp_path):
    path = real_data / "deepfashion2" / "deepfashion2_coco.json"
    aset = read_coco(path)
    raw = json.loads(path.read_text())
    assert [i.id for i in aset] == [264, 265]
    garments = [g for _, g in aset.garments()]
    assert [g.category_id for g in garments] == [11, 11]
    assert [g.id for g in garments] == [a["id"] for a in raw["annotations"]]
    assert garments[0].num_labelled == raw["annotations"][0]["num_keypoints"]
    assert garments[1].extra["images"] == raw["annotations"][1]["images"]  # the stray key survives
    assert garments[0].attributes == {"style": 1}
    assert aset.images[0].extra["pair_id"] == 22
    write_coco(aset, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    for ours, theirs in zip(again["annotations"], raw["annotations"], strict=True):
        assert {k: ours[k] for k in theirs} == theirs


def test_generic_coco_with_per_category_keypoints_matched_by_name(tmp_path):
    trousers = DF2.category("trousers")
    points = np.arange(trousers.num_landmarks * 3, dtype=float) % 7 + 1
    data = {
        "images": [{"id": 5, "file_name": "a.jpg", "width": 50, "height": 60}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 0, "bbox": [1, 2, 3, 4], "keypoints": points.tolist(), "area": 5.5}
        ],
        "categories": [{"id": 0, "name": "Trousers", "keypoints": list(trousers.landmarks)}],
    }
    aset = read_coco(_dump(tmp_path / "generic.json", data))
    garment = aset.images[0].garments[0]
    assert garment.category_id == trousers.id
    np.testing.assert_array_equal(garment.landmarks.ravel(), points)
    assert garment.extra == {"area": 5.5}  # differs from w*h, so kept and written back


def test_real_result_examples(real_data):
    keys = read_coco(real_data / "deepfashion2_examples" / "example_keys_results.json")
    raw = json.loads((real_data / "deepfashion2_examples" / "example_keys_results.json").read_text())
    assert [i.id for i in keys] == [1, 2, 3, 4, 5]
    garment = keys.images[0].garments[0]
    assert garment.score == raw[0]["score"]
    points = np.array(raw[0]["keypoints"]).reshape(294, 3)[:25]
    labelled = points[points[:, 2] > 0, :2]
    np.testing.assert_allclose(garment.bbox[:2], labelled.min(axis=0))
    np.testing.assert_allclose(garment.bbox[:2] + garment.bbox[2:], labelled.max(axis=0))
    boxes = read_coco(real_data / "deepfashion2_examples" / "example_bbox_results.json")
    braw = json.loads((real_data / "deepfashion2_examples" / "example_bbox_results.json").read_text())
    np.testing.assert_array_equal(boxes.images[0].garments[0].bbox, braw[0]["bbox"])
    assert boxes.is_prediction


def test_results_attached_to_images(tmp_path):
    from garmentcli.io.coco import results_to_set

    gt = sample_set()
    results = [*result_list(gt), {"image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5}]
    messages, on_error = _collect()
    attached = results_to_set(results, "res.json", on_error, images=gt)
    assert [i.file_name for i in attached] == [i.file_name for i in gt]
    assert [len(i.garments) for i in attached] == [2, 1, 0]
    assert messages == ["res.json: result #3: image_id 99 is not among the images"]


BAD_ANNOTATIONS = [
    ({"keypoints": [1.0] * 10}, "landmark vector has 10 values"),
    ({"category_id": 42}, "unknown category_id 42"),
    ({"bbox": [0, 0, 0, 5]}, "box has no area"),
    ({"bbox": [0, 0, -3, 5]}, "box has no area"),
    ({"bbox": [0, 0, 5]}, "bbox has 3 values"),
    ({"keypoints": [float("nan")] * 75}, "NaN or infinite"),
    ({"bbox": [0, float("inf"), 5, 5]}, "NaN or infinite"),
    ({"image_id": 77}, "image_id 77 is not in images"),
    ({"id": 1}, "duplicate annotation id"),
    ({"keypoints": ["a"] * 75}, "not a list of numbers"),
]


@pytest.mark.parametrize(("change", "expected"), BAD_ANNOTATIONS)
def test_bad_annotation_is_reported_with_file_and_entry_and_skipped(tmp_path, change, expected):
    good = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "keypoints": [0.0] * 882}
    bad = {**good, "id": 2, **change}
    data = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [good, bad]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))  # python's json writes NaN / Infinity, which readers must survive
    messages, on_error = _collect()
    aset = read_coco(path, on_error)
    assert aset.num_garments == 1
    assert len(messages) == 1
    assert messages[0].startswith(f"{path}: annotation id={bad['id']}: ")
    assert expected in messages[0]
    with pytest.raises(FormatError, match=expected):
        read_coco(path)


def test_duplicate_image_ids_reported(tmp_path):
    data = {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}], "annotations": []}
    messages, on_error = _collect()
    aset = read_coco(_dump(tmp_path / "d.json", data), on_error)
    assert [i.file_name for i in aset] == ["a.jpg"]
    assert "image id=1: duplicate image id" in messages[0]


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [("{", FormatError, "malformed JSON"), ("", FormatError, "empty file"), ('{"x": 1}', FormatError, "not a COCO")],
)
def test_unusable_files_raise_one_line_errors(tmp_path, text, error, match):
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(error, match=match) as caught:
        read_coco(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_coco(tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a folder"):
        read_coco(tmp_path)


def test_mixing_fld_and_deepfashion2_cannot_be_written():
    aset = sample_set()
    aset.images[2].garments.append(Garment(103, [1, 1, 5, 5], np.zeros((8, 3))))
    with pytest.raises(FormatError, match="cannot write DeepFashion2 and FLD"):
        coco_dict(aset)


def test_results_without_score_default_to_one():
    aset = AnnotationSet([ImageRecord(1, "a.jpg", garments=[Garment(9, [1, 2, 3, 4], np.zeros((8, 3)))])])
    assert result_list(aset)[0]["score"] == 1.0
