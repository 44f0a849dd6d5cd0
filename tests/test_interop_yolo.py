"""YOLO-pose export and import (garmentcli.io.yolo)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from io_samples import assert_same_set

from garmentcli.errors import FormatError, InputError
from garmentcli.io.coco import read_coco
from garmentcli.io.df2 import image_ids_from_names
from garmentcli.io.yolo import read_yolo, write_yolo, yolo_layout
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

GOLDEN = Path(__file__).parent / "golden" / "interop"


@pytest.fixture(scope="module")
def sample() -> AnnotationSet:
    return read_coco(GOLDEN / "sample.coco.json")


@pytest.fixture
def image_root(tmp_path, sample) -> Path:
    root = tmp_path / "photos"
    for record in sample:
        (root / record.file_name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / record.file_name), np.zeros((record.height, record.width, 3), np.uint8))
    return root


# ------------------------------------------------------------------------------------- flip_idx


def _is_involution(perm) -> bool:
    perm = np.asarray(perm)
    return sorted(perm.tolist()) == list(range(perm.size)) and np.array_equal(perm[perm], np.arange(perm.size))


def test_padded_flip_idx_maps_every_landmark_to_its_named_partner():
    layout = yolo_layout("padded")
    assert _is_involution(layout.flip_idx) and len(layout.flip_idx) == 294
    for category in DF2.categories:
        for i, name in enumerate(category.landmarks):
            partner = name[:-2] + {"_l": "_r", "_r": "_l"}[name[-2:]] if name[-2:] in ("_l", "_r") else name
            assert layout.flip_idx[category.offset + i] == category.offset + category.landmarks.index(partner)


def test_grouped_flip_idx_maps_every_landmark_group_to_its_partner_group():
    layout = yolo_layout("grouped")
    assert _is_involution(layout.flip_idx) and len(layout.flip_idx) == 77
    groups = DF2.group_of
    for k in range(294):  # the group of a landmark's flip partner is the flipped group of the landmark
        assert layout.flip_idx[groups[k]] == groups[DF2.flip_index[k]]
    names = layout.keypoints
    assert names[layout.flip_idx[names.index("cuff_outer_l")]] == "cuff_outer_r"
    assert names[layout.flip_idx[names.index("hem_center")]] == "hem_center"


def test_fld_flip_idx_swaps_left_and_right():
    layout = yolo_layout("fld")
    assert [layout.keypoints[j] for j in layout.flip_idx] == [
        "right_collar", "left_collar", "right_sleeve", "left_sleeve",
        "right_waistline", "left_waistline", "right_hem", "left_hem",
    ]  # fmt: skip


# ------------------------------------------------------------------------------------- export


def test_label_rows_hold_normalised_box_and_flags(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="grouped", image_root=image_root)
    record = sample.images[1]  # shop/000012.jpg, 640 x 480: shirt then trousers
    rows = np.loadtxt(tmp_path / "ds" / "labels" / "shop" / "000012.txt", ndmin=2)
    assert rows.shape == (2, 5 + 3 * 77)
    shirt = record.garments[0]
    x, y, w, h = shirt.bbox
    np.testing.assert_allclose(rows[0, :5], [0, (x + w / 2) / 640, (y + h / 2) / 480, w / 640, h / 480], atol=1e-6)
    assert rows[1, 0] == 7  # trousers: category 8 -> class 7
    slots = rows[0, 5:].reshape(77, 3)
    for (px, py, v), name in zip(shirt.landmarks, DF2.category(1).landmarks, strict=True):
        group = DF2.semantic_groups.index(name)
        expected = [px / 640, py / 480, v] if v > 0 else [0, 0, 0]
        np.testing.assert_allclose(slots[group], expected, atol=1e-6)
    others = np.setdiff1d(np.arange(77), DF2.group_of[DF2.category(1).slice])
    assert not slots[others].any()


def test_predictions_are_written_as_ultralytics_prediction_rows_and_read_back(tmp_path, image_root):
    landmarks = np.zeros((25, 3))
    landmarks[:3] = [[10, 10, 0.93], [20, 20, 0.2], [0, 0, 0.0]]
    record = ImageRecord(7, "000007.jpg", 320, 400, [Garment(1, [5, 5, 100, 100], landmarks, score=0.8)])
    write_yolo(AnnotationSet([record]), tmp_path / "ds", image_root=image_root)
    row = np.loadtxt(tmp_path / "ds" / "labels" / "000007.txt")
    assert row.shape == (5 + 294 * 3 + 1,) and row[-1] == 0.8  # as Ultralytics' save_txt with save_conf
    assert row[5:-1].reshape(294, 3)[:3, 2].tolist() == [0.93, 0.2, 0]
    assert yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())["garmentkp"]["scores"] is True
    garment = read_yolo(tmp_path / "ds").images[0].garments[0]
    assert garment.score == 0.8 and garment.landmarks[:3, 2].tolist() == [0.93, 0.2, 0]
    # training labels instead (pseudo-labels): visibility flags, never confidences
    write_yolo(AnnotationSet([record]), tmp_path / "train", image_root=image_root, scores=False)
    row = np.loadtxt(tmp_path / "train" / "labels" / "000007.txt")
    assert row.shape == (5 + 294 * 3,) and row[5:].reshape(294, 3)[:3, 2].tolist() == [2, 1, 0]


def test_data_yaml_describes_the_dataset(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="padded", image_root=image_root)
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    assert data["kpt_shape"] == [294, 3]
    assert data["flip_idx"] == DF2.flip_index.tolist()
    assert data["names"] == {c.id - 1: c.name for c in DF2.categories}
    assert Path(data["path"]) == (tmp_path / "ds").resolve()
    assert (Path(data["path"]) / data["train"] / "shop" / "000012.jpg").is_file()


def test_grouped_export_matches_the_golden_files(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="grouped", image_root=image_root)
    golden = GOLDEN / "yolo_grouped"
    for label in ("000007.txt", "shop/000012.txt"):
        assert (tmp_path / "ds" / "labels" / label).read_text() == (golden / "labels" / label).read_text()
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    expected = yaml.safe_load((golden / "data.yaml").read_text())
    assert {k: v for k, v in data.items() if k != "path"} == {k: v for k, v in expected.items() if k != "path"}


def test_golden_files_follow_the_ultralytics_pose_schema():
    """Ultralytics: one row per object, class + 4 normalised box values + kpt_shape values per
    keypoint, all coordinates in 0-1, visibility 0/1/2, unlabelled points 0 0 0; flip_idx a
    permutation of the keypoints."""
    golden = GOLDEN / "yolo_grouped"
    data = yaml.safe_load((golden / "data.yaml").read_text())
    num_keypoints, dims = data["kpt_shape"]
    assert dims == 3 and _is_involution(data["flip_idx"]) and len(data["flip_idx"]) == num_keypoints
    assert {"train", "val", "names"} <= data.keys()
    for label in sorted((golden / "labels").rglob("*.txt")):
        rows = np.loadtxt(label, ndmin=2)
        assert rows.shape[1] == 5 + 3 * num_keypoints
        assert set(rows[:, 0].astype(int)) <= set(data["names"]) and np.all(rows[:, 0] == np.round(rows[:, 0]))
        assert np.all((rows[:, 1:] >= 0) & (rows[:, 1:] <= 2))
        points = rows[:, 5:].reshape(len(rows), num_keypoints, 3)
        assert np.all(points[..., :2] <= 1) and set(np.unique(points[..., 2])) <= {0, 1, 2}
        assert not points[points[..., 2] == 0].any()


# ------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("layout", ["padded", "grouped"])
def test_coco_yolo_coco_round_trip(tmp_path, sample, image_root, layout):
    from garmentcli.io.coco import write_coco

    write_yolo(sample, tmp_path / "ds", layout=layout, image_root=image_root)
    write_coco(read_yolo(tmp_path / "ds"), tmp_path / "back.json")
    assert_same_set(sample, read_coco(tmp_path / "back.json"), tol=1e-3)


def test_import_accepts_the_data_yaml_path_and_symlinked_images(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="grouped", image_root=image_root, image_mode="symlink")
    assert (tmp_path / "ds" / "images" / "000007.jpg").is_symlink()
    assert_same_set(sample, read_yolo(tmp_path / "ds" / "data.yaml"), tol=1e-3)


def test_import_without_garmentkp_section_recognises_the_layout_by_kpt_shape(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="grouped", image_root=image_root)
    data_path = tmp_path / "ds" / "data.yaml"
    data = yaml.safe_load(data_path.read_text())
    del data["garmentkp"]
    data["names"] = [c.name for c in DF2.categories]  # the list form of names
    data_path.write_text(yaml.safe_dump(data))
    assert_same_set(sample, read_yolo(tmp_path / "ds"), tol=1e-3)


# ------------------------------------------------------------------------------------- bad input


def test_missing_image_is_an_input_error_naming_it(tmp_path, sample, image_root):
    (image_root / "000007.jpg").unlink()
    with pytest.raises(InputError, match="000007.jpg: image not found"):
        write_yolo(sample, tmp_path / "ds", image_root=image_root)


def test_fld_and_deepfashion2_garments_cannot_share_a_dataset(tmp_path):
    fld = Garment(103, [0, 0, 5, 5], np.zeros((8, 3)))
    df2 = Garment(1, [0, 0, 5, 5], np.zeros((25, 3)))
    with pytest.raises(FormatError, match="cannot be mixed"):
        write_yolo(AnnotationSet([ImageRecord(1, "a.jpg", 10, 10, [fld, df2])]), tmp_path / "ds")


def test_bad_label_lines_are_reported_and_skipped(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="grouped", image_root=image_root)
    label = tmp_path / "ds" / "labels" / "shop" / "000012.txt"
    rows = np.loadtxt(label, ndmin=2)
    rows[0, 5 + 3 * DF2.semantic_groups.index("crotch") + 2] = 2  # a trousers landmark on a shirt
    rows[1, 0] = 40  # a class data.yaml does not name
    np.savetxt(label, rows, fmt="%.6f")
    errors: list[str] = []
    back = read_yolo(tmp_path / "ds", on_error=errors.append)
    assert back.num_garments == 1
    assert errors == [
        f"{label}: line 1: keypoint 'crotch' is not a landmark of short_sleeved_shirt",
        f"{label}: line 2: class 40 is not in data.yaml names",
    ]
    label.write_text("0 0.5 0.5\n")
    errors.clear()
    back = read_yolo(tmp_path / "ds", on_error=errors.append)
    assert [r.file_name for r in back] == ["000007.jpg"]
    assert errors == [f"{label}: line 1: 3 values, expected 236 (or one more: a prediction's score); image skipped"]
    with pytest.raises(FormatError, match="line 1: 3 values, expected 236"):
        read_yolo(tmp_path / "ds")


def test_foreign_keypoint_shape_is_refused(tmp_path, sample, image_root):
    write_yolo(sample, tmp_path / "ds", layout="grouped", image_root=image_root)
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    del data["garmentkp"]
    data["kpt_shape"] = [17, 3]
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(FormatError, match="kpt_shape 17 is no garmentkp layout"):
        read_yolo(tmp_path / "ds")


def test_folder_without_data_yaml_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="needs data.yaml"):
        read_yolo(tmp_path)


def test_image_ids_come_from_file_names():
    assert image_ids_from_names(["000264.jpg", "a/img_00000128.jpg"]) == [264, 128]
    assert image_ids_from_names(["a.jpg", "b.jpg"]) == [1, 2]
    assert image_ids_from_names(["1.jpg", "x/1.jpg"]) == [1, 2]  # not distinct


# ------------------------------------------------------------------------------------- real samples


@pytest.mark.parametrize("layout", ["padded", "grouped"])
@pytest.mark.parametrize("sub, name", [("deepfashion2", "deepfashion2_coco.json"), ("fld", "fld_coco.json")])
def test_real_samples_round_trip(real_data, tmp_path, layout, sub, name):
    original = read_coco(real_data / sub / name)
    write_yolo(original, tmp_path / "ds", layout=layout, image_root=real_data / sub, image_mode="symlink")
    back = read_yolo(tmp_path / "ds")
    assert_same_set(original, back, tol=1e-3)
    shutil.rmtree(tmp_path / "ds")


def test_real_result_list_without_images_is_refused_with_a_clear_error(real_data, tmp_path):
    results = read_coco(real_data / "deepfashion2_examples" / "example_keys_results.json")
    with pytest.raises(FormatError, match="image size unknown"):
        write_yolo(results, tmp_path / "ds", image_root=tmp_path)
