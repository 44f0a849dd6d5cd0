"""Label Studio tasks, labeling config and export reading (garmentcli.io.labelstudio)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from io_samples import assert_same_set

from garmentcli.errors import FormatError
from garmentcli.io.coco import read_coco, write_coco
from garmentcli.io.labelstudio import read_labelstudio, write_labelstudio
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

GOLDEN = Path(__file__).parent / "golden" / "interop"


@pytest.fixture(scope="module")
def sample() -> AnnotationSet:
    return read_coco(GOLDEN / "sample.coco.json")


def test_coco_labelstudio_coco_round_trip(tmp_path, sample):
    write_labelstudio(sample, tmp_path / "tasks.json")
    write_coco(read_labelstudio(tmp_path / "tasks.json"), tmp_path / "back.json")
    assert_same_set(sample, read_coco(tmp_path / "back.json"), tol=1e-6)


def test_tasks_match_the_golden_files(tmp_path, sample):
    write_labelstudio(sample, tmp_path / "tasks.json", model_version="golden")
    golden = GOLDEN / "labelstudio"
    assert json.loads((tmp_path / "tasks.json").read_text()) == json.loads((golden / "sample_tasks.json").read_text())
    assert (tmp_path / "tasks.config.xml").read_text() == (golden / "sample_tasks.config.xml").read_text()


def test_regions_are_percent_coordinates_linked_by_parent_id(sample):
    tasks = json.loads((GOLDEN / "labelstudio" / "sample_tasks.json").read_text())
    record, task = sample.images[1], tasks[1]  # shop/000012.jpg, 640 x 480
    assert task["data"] == {
        "image": "shop/000012.jpg", "file_name": "shop/000012.jpg", "image_id": 12, "width": 640, "height": 480,
    }  # fmt: skip
    result = task["predictions"][0]["result"]
    shirt = record.garments[0]
    box = next(r for r in result if r["type"] == "rectanglelabels")
    x, y, w, h = shirt.bbox
    value = dict(box["value"])
    assert value.pop("rectanglelabels") == ["short_sleeved_shirt"]
    assert value == pytest.approx({"x": x / 6.4, "y": y / 4.8, "width": w / 6.4, "height": h / 4.8, "rotation": 0})
    points = [r for r in result if r["type"] == "keypointlabels" and r["parentID"] == box["id"]]
    assert [p["value"]["keypointlabels"][0] for p in points] == list(DF2.category(1).landmarks)
    for point, (px, py, _) in zip(points, shirt.landmarks, strict=True):
        assert (point["value"]["x"], point["value"]["y"]) == pytest.approx((px / 6.4, py / 4.8))
    point_ids = {p["id"] for p in points}
    occluded = {r["id"] for r in result if r["type"] == "choices" and r["value"]["choices"] == ["occluded"]} & point_ids
    expected = {p["id"] for p, v in zip(points, shirt.landmarks[:, 2], strict=True) if v == 1}
    assert occluded == expected and occluded


def test_unlabelled_landmarks_get_no_region(sample):
    tasks = json.loads((GOLDEN / "labelstudio" / "sample_tasks.json").read_text())
    outwear = sample.images[0].garments[0]
    points = [r for r in tasks[0]["predictions"][0]["result"] if r["type"] == "keypointlabels"]
    assert len(points) == outwear.num_labelled < DF2.category(4).num_landmarks


def test_golden_files_follow_the_label_studio_schema():
    """Label Studio: tasks have ``data`` with the Image's ``$image`` key; predictions have
    ``model_version`` and ``result``; each result names a control (``from_name``) and object
    (``to_name``) of the config, has a ``type`` matching the control tag, percent values in
    0-100, ``original_width``/``original_height``, and uses only labels the config declares."""
    golden = GOLDEN / "labelstudio"
    config = ET.parse(golden / "sample_tasks.config.xml").getroot()
    assert config.tag == "View"
    image = config.find("Image")
    controls = {c.get("name"): c for c in config if c.tag != "Image"}
    kinds = {"RectangleLabels": "rectanglelabels", "KeyPointLabels": "keypointlabels", "Choices": "choices"}
    for task in json.loads((golden / "sample_tasks.json").read_text()):
        assert image.get("value") == "$image" and "image" in task["data"]
        for prediction in task["predictions"]:
            assert isinstance(prediction["model_version"], str)
            ids = {r["id"] for r in prediction["result"]}
            for r in prediction["result"]:
                control = controls[r["from_name"]]
                assert r["to_name"] == image.get("name") == control.get("toName")
                assert r["type"] == kinds[control.tag]
                assert r["original_width"] == task["data"]["width"]
                declared = {c.get("value") for c in control}
                assert set(r["value"][r["type"]]) <= declared
                assert all(0 <= r["value"][k] <= 100 for k in ("x", "y", "width", "height") if k in r["value"])
                assert r.get("parentID", r["id"]) in ids
    assert controls["visibility"].get("perRegion") == "true"


def test_predictions_carry_model_version_and_scores(tmp_path):
    landmarks = np.zeros((8, 3))
    landmarks[:2] = [[10, 20, 0.9], [30, 40, 0.3]]
    garments = [Garment(9, [5, 5, 50, 50], landmarks, score=0.8), Garment(9, [60, 5, 20, 20], landmarks, score=0.4)]
    aset = AnnotationSet([ImageRecord(1, "a.jpg", 100, 200, garments)], {"model": "garmentkp-small"})
    write_labelstudio(aset, tmp_path / "tasks.json", image_prefix="/data/local-files/?d=photos/")
    task = json.loads((tmp_path / "tasks.json").read_text())[0]
    assert task["data"]["image"] == "/data/local-files/?d=photos/a.jpg"
    prediction = task["predictions"][0]
    assert prediction["model_version"] == "garmentkp-small" and prediction["score"] == pytest.approx(0.6)
    points = [r for r in prediction["result"] if r["type"] == "keypointlabels"]
    assert [p["score"] for p in points[:2]] == [0.9, 0.3]
    choices = [r for r in prediction["result"] if r["type"] == "choices"]
    assert [c["id"] for c in choices] == [points[1]["id"], points[3]["id"]]  # 0.3 < 0.5: occluded
    back = read_labelstudio(tmp_path / "tasks.json").images[0].garments[0]
    assert back.score == 0.8 and back.landmarks[:2, 2].tolist() == [0.9, 0.3]  # a prediction comes back as one
    task["annotations"] = [{"result": prediction["result"]}]  # submitted by a reviewer: ground truth
    (tmp_path / "reviewed.json").write_text(json.dumps([task]))
    back = read_labelstudio(tmp_path / "reviewed.json").images[0].garments[0]
    assert back.score is None and back.landmarks[:2, 2].tolist() == [2, 1]


def test_corrected_label_studio_export_is_read():
    """A real-form export: numeric prediction ids, a cancelled annotation, a keypoint a reviewer
    added without parentID, a relation, a rotated box, a local-storage image URL."""
    errors: list[str] = []
    aset = read_labelstudio(GOLDEN / "labelstudio" / "export_corrected.json", on_error=errors.append)
    assert errors == []
    assert [(r.id, r.file_name, r.width, r.height) for r in aset] == [
        (101, "catalogue/000101.jpg", 400, 600),
        (102, "catalogue/000102.jpg", 400, 600),
    ]
    skirt = aset.images[0].garments[0]
    np.testing.assert_allclose(skirt.bbox, [50, 100, 300, 400])
    expected = np.zeros((8, 3))
    expected[[0, 2, 5]] = [[80.5, 110.25, 2], [320, 112, 1], [200, 300, 2]]  # hem_center: the orphan keypoint
    np.testing.assert_allclose(skirt.landmarks, expected)
    trousers = aset.images[1].garments[0]
    np.testing.assert_allclose(trousers.bbox, [80, 60, 120, 120])  # box around the 90-degree rotated rectangle
    assert trousers.landmarks[DF2.category(8).index["crotch"]].tolist() == [160, 120, 2]


def test_bad_regions_are_reported_and_skipped(tmp_path):
    tasks = json.loads((GOLDEN / "labelstudio" / "export_corrected.json").read_text())
    result = tasks[0]["annotations"][0]["result"]
    result[1]["value"]["keypointlabels"] = ["crotch"]  # not a skirt landmark
    result[4]["value"]["x"] = 99  # the orphan now lies in no box
    tasks[1]["annotations"][0]["result"][0]["value"]["rectanglelabels"] = ["cape"]
    (tmp_path / "bad.json").write_text(json.dumps(tasks))
    errors: list[str] = []
    aset = read_labelstudio(tmp_path / "bad.json", on_error=errors.append)
    assert aset.num_garments == 1
    assert len(errors) == 4
    assert "task 41: region 'g1-1': keypoint 'crotch' is not a landmark of skirt" in errors[0]
    assert "region 'Xq3v_9LmPa': keypoint 'hem_center' belongs to no garment" in errors[1]
    assert "task 42: region 'r8': unknown garment category 'cape'" in errors[2]
    assert "region 'k8'" in errors[3]
    (tmp_path / "notasks.json").write_text('{"images": 3}')
    with pytest.raises(FormatError, match="no data object"):
        read_labelstudio(tmp_path / "notasks.json")


def test_unknown_image_size_is_refused_when_writing(tmp_path):
    aset = AnnotationSet([ImageRecord(1, "a.jpg", 0, 0, [Garment(9, [1, 1, 5, 5], np.zeros((8, 3)))])])
    with pytest.raises(FormatError, match="a.jpg: image size unknown"):
        write_labelstudio(aset, tmp_path / "tasks.json")


@pytest.mark.parametrize("sub, name", [("deepfashion2", "deepfashion2_coco.json"), ("fld", "fld_coco.json")])
def test_real_samples_round_trip(real_data, tmp_path, sub, name):
    original = read_coco(real_data / sub / name)
    write_labelstudio(original, tmp_path / "tasks.json")
    assert_same_set(original, read_labelstudio(tmp_path / "tasks.json"), tol=1e-6)


def test_real_result_list_without_image_sizes_is_refused_with_a_clear_error(real_data, tmp_path):
    results = read_coco(real_data / "deepfashion2_examples" / "example_keys_results.json")
    with pytest.raises(FormatError, match="image size unknown"):
        write_labelstudio(results, tmp_path / "tasks.json")
