"""CVAT for images 1.1 XML export and import (garmentcli.io.cvat)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from io_samples import assert_same_set

from garmentcli.errors import FormatError
from garmentcli.io.coco import read_coco, write_coco
from garmentcli.io.cvat import SKELETON_SUFFIX, cvat_tree, read_cvat, write_cvat
from garmentcli.schema.fld import FLD_LANDMARKS
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

GOLDEN = Path(__file__).parent / "golden" / "interop"


@pytest.fixture(scope="module")
def sample() -> AnnotationSet:
    return read_coco(GOLDEN / "sample.coco.json")


def test_coco_cvat_coco_round_trip(tmp_path, sample):
    write_cvat(sample, tmp_path / "annotations.xml")
    write_coco(read_cvat(tmp_path / "annotations.xml"), tmp_path / "back.json")
    assert_same_set(sample, read_coco(tmp_path / "back.json"), tol=0.005)


def test_cvat_export_zip_is_read(tmp_path, sample):
    write_cvat(sample, tmp_path / "annotations.xml")
    with zipfile.ZipFile(tmp_path / "task.zip", "w") as archive:
        archive.write(tmp_path / "annotations.xml", "annotations.xml")
    assert_same_set(sample, read_cvat(tmp_path / "task.zip"), tol=0.005)


def test_image_elements_match_the_golden_file(sample):
    root = cvat_tree(sample).getroot()
    for child in [c for c in root if c.tag != "image"]:
        root.remove(child)
    ET.indent(root)
    assert ET.tostring(root, encoding="unicode") + "\n" == (GOLDEN / "cvat" / "sample_images.xml").read_text()


def test_visibility_becomes_outside_and_occluded_flags(sample):
    root = cvat_tree(sample).getroot()
    shirt = sample.images[1].garments[0]  # shop/000012.jpg, in lexical order the second image
    points = root.findall("image")[1].find("skeleton").findall("points")
    assert [p.get("label") for p in points] == list(DF2.category(1).landmarks)
    flags = [2 - int(p.get("occluded")) if p.get("outside") == "0" else 0 for p in points]
    assert flags == shirt.landmarks[:, 2].astype(int).tolist()


def _check_cvat_schema(root: ET.Element) -> None:
    """CVAT for images 1.1: version, labels (skeleton sublabels unique, with their parent, named
    by the svg nodes), images with id/name/width/height, boxes with corners, skeletons whose
    points use their skeleton's sublabels, box and skeleton of a garment sharing a group_id."""
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    labels = root.find("meta/task/labels").findall("label")
    types = {lb.findtext("name"): lb.findtext("type") for lb in labels}
    sublabels: dict[str, list[str]] = {}
    for label in labels:
        if label.find("parent") is not None:
            assert label.findtext("type") == "points"
            sublabels.setdefault(label.findtext("parent"), []).append(label.findtext("name"))
    for name, kind in types.items():
        if kind == "skeleton":
            children = sublabels[name]
            assert len(children) == len(set(children)), f"{name}: point labels must be unique"
            svg = next(lb for lb in labels if lb.findtext("name") == name).findtext("svg")
            assert re.findall(r'data-label-name="([^"]+)"', svg) == children
    for image in root.findall("image"):
        assert {"id", "name", "width", "height"} <= set(image.keys())
        groups: dict[str, list[str]] = {}
        for box in image.findall("box"):
            assert types[box.get("label")] == "rectangle"
            assert float(box.get("xtl")) < float(box.get("xbr")) and float(box.get("ytl")) < float(box.get("ybr"))
            groups.setdefault(box.get("group_id"), []).append("box")
        for skeleton in image.findall("skeleton"):
            assert types[skeleton.get("label")] == "skeleton"
            labels_used = [p.get("label") for p in skeleton.findall("points")]
            assert labels_used == sublabels[skeleton.get("label")]
            for point in skeleton.findall("points"):
                assert point.get("outside") in ("0", "1") and point.get("occluded") in ("0", "1")
                assert len(point.get("points").split(",")) == 2
            groups.setdefault(skeleton.get("group_id"), []).append("skeleton")
        assert all(sorted(kinds) == ["box", "skeleton"] for kinds in groups.values())


def test_export_follows_the_cvat_schema(tmp_path, sample):
    write_cvat(sample, tmp_path / "annotations.xml")
    _check_cvat_schema(ET.parse(tmp_path / "annotations.xml").getroot())
    golden = ET.parse(GOLDEN / "cvat" / "sample_images.xml").getroot()
    assert [i.get("name") for i in golden.findall("image")] == ["000007.jpg", "shop/000012.jpg"]


def test_raw_labels_json_declares_a_skeleton_per_category(tmp_path, sample):
    write_cvat(sample, tmp_path / "annotations.xml")
    labels = json.loads((tmp_path / "annotations.labels.json").read_text())
    skeletons = {lb["name"]: lb for lb in labels if lb["type"] == "skeleton"}
    assert sorted(skeletons) == sorted(c.name + SKELETON_SUFFIX for c in DF2.categories)
    outwear = skeletons["long_sleeved_outwear" + SKELETON_SUFFIX]
    assert [s["name"] for s in outwear["sublabels"]] == list(DF2.category(4).landmarks)
    assert {lb["name"] for lb in labels if lb["type"] == "rectangle"} == {c.name for c in DF2.categories}


def test_prediction_scores_are_attributes_read_back_until_a_reviewer_edits_the_garment(tmp_path):
    landmarks = np.zeros((8, 3))
    landmarks[0] = [5, 6, 0.9]
    landmarks[1] = [7, 8, 0.3]
    record = ImageRecord(3, "a.jpg", 50, 50, [Garment(9, [1, 2, 30, 40], landmarks, score=0.75)])
    write_cvat(AnnotationSet([record]), tmp_path / "pred.xml")
    tree = ET.parse(tmp_path / "pred.xml")
    box = tree.getroot().find("image/box")
    assert box.get("source") == "auto" and box.find("attribute").text == "0.7500"
    points = tree.getroot().findall("image/skeleton/points")
    assert [p.find("attribute").text for p in points[:3]] == ["0.9000", "0.3000", "0.0000"]
    garment = read_cvat(tmp_path / "pred.xml").images[0].garments[0]
    assert garment.score == 0.75 and garment.landmarks[:3].tolist() == [[5, 6, 0.9], [7, 8, 0.3], [0, 0, 0]]
    # a reviewer moved a point: CVAT marks the skeleton semi-auto, and the garment is ground truth now
    tree.getroot().find("image/skeleton").set("source", "semi-auto")
    tree.write(tmp_path / "reviewed.xml")
    garment = read_cvat(tmp_path / "reviewed.xml").images[0].garments[0]
    assert garment.score is None and garment.landmarks[:2].tolist() == [[5, 6, 2], [7, 8, 1]]


def test_corrected_cvat_export_is_read(tmp_path):
    """A CVAT export after review: a job meta, a reviewer-drawn skeleton without a box, a box
    without a skeleton, an outside point, other shapes to ignore."""
    aset = read_cvat(GOLDEN / "cvat" / "export_corrected.xml")
    assert [(r.id, r.file_name, r.width, r.height) for r in aset] == [
        (101, "catalogue/000101.jpg", 400, 600),
        (102, "catalogue/000102.jpg", 400, 600),
    ]
    first, (drawn, lone_box) = aset.images[0].garments, aset.images[1].garments
    assert len(first) == 1 and first[0].category_id == 9
    np.testing.assert_array_equal(first[0].bbox, [50, 100, 300, 400])
    np.testing.assert_array_equal(first[0].landmarks[:3], [[80.5, 110.25, 2], [200, 105, 2], [320, 112, 1]])
    assert first[0].landmarks[5].tolist() == [0, 0, 0]  # hem_center was outside
    np.testing.assert_array_equal(drawn.bbox, [90, 50, 220, 360])  # around its labelled points
    assert drawn.landmarks[:, 2].tolist() == [2, 0, 2, 0, 1, 0, 2, 0]
    np.testing.assert_array_equal(lone_box.bbox, [10, 20, 20, 20])
    assert not lone_box.landmarks.any()
    write_coco(aset, tmp_path / "corrected.json")
    assert read_coco(tmp_path / "corrected.json").num_garments == 3


def test_bad_shapes_are_reported_and_skipped(tmp_path):
    text = (GOLDEN / "cvat" / "export_corrected.xml").read_text()
    text = text.replace('label="hip_l"', 'label="knee_l"').replace(
        '<box label="skirt" source="manual" occluded="0" xtl="10.00"', '<box label="cape" occluded="0" xtl="10.00"'
    )
    (tmp_path / "bad.xml").write_text(text)
    errors: list[str] = []
    aset = read_cvat(tmp_path / "bad.xml", on_error=errors.append)
    assert aset.num_garments == 1
    assert len(errors) == 2
    assert "catalogue/000101.jpg" in errors[0] and "'knee_l' is not a landmark of skirt" in errors[0]
    assert "unknown garment category 'cape'" in errors[1]
    (tmp_path / "broken.xml").write_text("<annotations><image")
    with pytest.raises(FormatError, match="malformed XML"):
        read_cvat(tmp_path / "broken.xml")


def test_fld_garments_use_the_fld_point_names(tmp_path):
    landmarks = np.column_stack([np.arange(8) * 10.0, np.arange(8) * 5.0, [2, 1, 0, 2, 2, 2, 1, 0]])
    landmarks[landmarks[:, 2] == 0, :2] = 0
    aset = AnnotationSet([ImageRecord(5, "img_00000005.jpg", 200, 250, [Garment(103, [1, 1, 100, 100], landmarks)])])
    write_cvat(aset, tmp_path / "fld.xml")
    root = ET.parse(tmp_path / "fld.xml").getroot()
    _check_cvat_schema(root)
    assert [p.get("label") for p in root.find("image/skeleton")] == list(FLD_LANDMARKS)
    assert_same_set(aset, read_cvat(tmp_path / "fld.xml"), tol=0.005)


@pytest.mark.parametrize("sub, name", [("deepfashion2", "deepfashion2_coco.json"), ("fld", "fld_coco.json")])
def test_real_samples_round_trip(real_data, tmp_path, sub, name):
    original = read_coco(real_data / sub / name)
    write_cvat(original, tmp_path / "annotations.xml")
    _check_cvat_schema(ET.parse(tmp_path / "annotations.xml").getroot())
    assert_same_set(original, read_cvat(tmp_path / "annotations.xml"), tol=0.005)


def test_real_result_list_goes_through(real_data, tmp_path):
    results = read_coco(real_data / "deepfashion2_examples" / "example_keys_results.json")
    write_cvat(results, tmp_path / "pred.xml")
    back = read_cvat(tmp_path / "pred.xml")
    assert back.num_garments == results.num_garments
    assert {g.category_id for _, g in back.garments()} == {g.category_id for _, g in results.garments()}
