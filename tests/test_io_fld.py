import numpy as np
import pytest
from io_samples import assert_sets_equal

from garmentcli.errors import InputError
from garmentcli.io.coco import read_coco, write_coco
from garmentcli.io.fld import find_fld_files, read_fld
from garmentcli.schema.fld import FLD_CATEGORY_IDS, FLD_LANDMARKS
from garmentcli.schema.garments import landmark_names

UPPER = "img/a/img_00000001.jpg 1 0  0 10 20  1 30 20  2 5 40  0 35 40  0 12 80  1 28 80" + "  0 0 0" * 2
LOWER = "img/b/img_00000002.jpg 2 1  0 11 21  0 31 21  1 9 70  0 33 70"  # the unused slots omitted
FULL = "img/c/img_00000003.jpg 3 2 " + " ".join(f"0 {x} {x + 1}" for x in range(1, 9))


def _write_fld(root, lines, boxes=True, partition=True):
    (root / "Anno").mkdir(parents=True)
    (root / "Anno" / "list_landmarks.txt").write_text(
        f"{len(lines)}\nimage_name clothes_type variation_type landmark_visibility_1 ...\n" + "\n".join(lines) + "\n"
    )
    if boxes:
        rows = [line.split()[0] + " 2 3 50 90" for line in lines]
        (root / "Anno" / "list_bbox.txt").write_text(f"{len(rows)}\nimage_name x_1 y_1 x_2 y_2\n" + "\n".join(rows))
    if partition:
        (root / "Eval").mkdir()
        rows = [line.split()[0] + " val" for line in lines]
        (root / "Eval" / "list_eval_partition.txt").write_text(
            f"{len(rows)}\nimage_name evaluation_status\n" + "\n".join(rows)
        )
    return root


def test_fld_text_files_map_into_the_eight_slots(tmp_path):
    aset = read_fld(_write_fld(tmp_path, [UPPER, LOWER, FULL]))
    assert [i.id for i in aset] == [1, 2, 3]
    upper, lower, full = (i.garments[0] for i in aset)
    assert upper.category_id == FLD_CATEGORY_IDS[1] and lower.category_id == FLD_CATEGORY_IDS[2]
    slot = {name: i for i, name in enumerate(FLD_LANDMARKS)}
    np.testing.assert_array_equal(upper.landmarks[slot["left_collar"]], [10, 20, 2])  # FLD visible -> 2
    np.testing.assert_array_equal(upper.landmarks[slot["right_collar"]], [30, 20, 1])  # occluded -> 1
    np.testing.assert_array_equal(upper.landmarks[slot["left_sleeve"]], [5, 40, 0])  # truncated -> 0, xy kept
    np.testing.assert_array_equal(upper.landmarks[slot["right_hem"]], [28, 80, 1])
    assert not upper.landmarks[[slot["left_waistline"], slot["right_waistline"]]].any()
    np.testing.assert_array_equal(lower.landmarks[slot["left_waistline"]], [11, 21, 2])
    np.testing.assert_array_equal(lower.landmarks[slot["left_hem"]], [9, 70, 1])
    assert not lower.landmarks[: slot["left_waistline"]].any()
    np.testing.assert_array_equal(full.landmarks[:, 0], np.arange(1, 9))
    np.testing.assert_array_equal(upper.bbox, [2, 3, 48, 87])
    assert aset.images[0].extra == {"evaluation_status": "val"}
    assert full.extra == {"variation_type": 2}
    assert aset.images[0].file_name == "img/a/img_00000001.jpg"


def test_fld_without_boxes_uses_the_landmark_extent(tmp_path):
    files = _write_fld(tmp_path, [UPPER], boxes=False, partition=False)
    garment = read_fld(files / "Anno" / "list_landmarks.txt").images[0].garments[0]
    np.testing.assert_array_equal(garment.bbox, [10, 20, 25, 60])  # x 10..35, y 20..80; truncated (5, 40) left out
    assert find_fld_files(tmp_path)["root"] == tmp_path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("img/x/img_00000009.jpg 4 1 0 1 1", "clothes_type 4"),
        ("img/x/img_00000009.jpg 2 1 0 1 1 0 2 2", "needs 4 visibility/x/y triples"),
        ("img/x/img_00000009.jpg 2 1 0 a 1 0 2 2 0 3 3 0 4 4", "needs 4 visibility/x/y"),
        ("img/x/img_00000009.jpg 2 1 5 1 1 0 2 2 0 3 3 0 4 4", "visibility must be"),
        ("img/x/nonumber.jpg 2 1 0 1 1 0 2 2 0 3 3 0 4 4", "no number"),
        (UPPER, "repeats"),
        ("img/x/img_00000009.jpg 2 1" + " 0 1 1" * 9, "30 fields"),
    ],
)
def test_bad_fld_lines_are_reported_and_skipped(tmp_path, line, expected):
    files = _write_fld(tmp_path, [UPPER, line], boxes=False, partition=False)
    messages = []
    aset = read_fld(files, messages.append)
    assert [i.id for i in aset] == [1]
    assert len(messages) == 1 and expected in messages[0]
    assert "list_landmarks.txt" in messages[0]


def test_fld_errors(tmp_path):
    with pytest.raises(InputError, match="no list_landmarks.txt"):
        read_fld(tmp_path)


def test_real_fld_coco(real_data, tmp_path):
    aset = read_coco(real_data / "fld" / "fld_coco.json")
    assert [i.id for i in aset] == [128, 132]
    garments = [g for _, g in aset.garments()]
    assert {g.category_id for g in garments} == {FLD_CATEGORY_IDS[3]}
    assert garments[1].num_labelled == 7
    np.testing.assert_array_equal(garments[0].landmarks[0], [108, 33, 1])
    assert landmark_names(garments[0].category_id) == FLD_LANDMARKS
    write_coco(aset, tmp_path / "fld.json")
    assert_sets_equal(read_coco(tmp_path / "fld.json"), aset)


def test_fld_text_to_coco_round_trip(tmp_path):
    aset = read_fld(_write_fld(tmp_path / "fld", [UPPER, LOWER, FULL]))
    write_coco(aset, tmp_path / "fld.json")
    assert_sets_equal(read_coco(tmp_path / "fld.json"), aset, ids=False)
