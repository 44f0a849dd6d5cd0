import json

import cv2
import numpy as np
import pytest
from io_samples import assert_sets_equal, sample_set

from garmentcli.errors import FormatError, InputError
from garmentcli.io.df2 import (
    df2_anno_dict,
    image_id_from_name,
    image_ids_from_names,
    read_df2_anno,
    read_df2_split,
    write_df2_anno,
    write_df2_split,
)
from garmentcli.schema.layout import DF2


def test_anno_document_has_the_dataset_keys():
    record = sample_set().images[0]
    document = df2_anno_dict(record)
    assert document["source"] == "shop" and document["pair_id"] == 7
    item = document["item1"]
    assert item["category_name"] == "short_sleeved_shirt" and item["category_id"] == 1
    assert item["bounding_box"] == [10.5, 12.25, 310.5, 323.0]
    assert len(item["landmarks"]) == 3 * DF2.category(1).num_landmarks
    assert (item["scale"], item["occlusion"], item["zoom_in"], item["viewpoint"], item["style"]) == (2, 1, 1, 2, 1)
    assert list(document).index("item1") < list(document).index("item2")


def test_split_round_trip_with_image_sizes(tmp_path):
    original = sample_set()
    write_df2_split(original, tmp_path)
    (tmp_path / "image").mkdir()
    for record in original.images[:2]:
        cv2.imwrite(str(tmp_path / "image" / record.file_name), np.zeros((record.height, record.width, 3), np.uint8))
    original.images[2].width = original.images[2].height = 0  # no image file: size unknown
    read = read_df2_split(tmp_path)
    assert_sets_equal(read, original, ids=False)


def test_anno_reading_orders_items_numerically_and_takes_id_from_name(tmp_path):
    record = sample_set().images[0]
    document = df2_anno_dict(record)
    document["item10"] = document.pop("item1")
    path = tmp_path / "000123.json"
    path.write_text(json.dumps(document))
    read = read_df2_anno(path)
    assert read.id == 123 and read.file_name == "000123.jpg"
    assert [g.category_id for g in read.garments] == [8, 1]


def test_single_anno_round_trip(tmp_path):
    record = sample_set(scores=True).images[0]
    write_df2_anno(record, tmp_path / "000001.json")
    read = read_df2_anno(tmp_path / "000001.json")
    assert read.extra == record.extra
    for a, b in zip(read.garments, record.garments, strict=True):
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        assert (a.score, a.attributes, a.extra, a.segmentation) == (b.score, b.attributes, b.extra, b.segmentation)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"category_id": 1, "bounding_box": [0, 0, 5, 5], "landmarks": [1.0] * 9}, "landmark vector has 9 values"),
        ({"category_id": 99, "bounding_box": [0, 0, 5, 5]}, "unknown garment category 99"),
        ({"category_id": 1, "bounding_box": [5, 5, 5, 9]}, "box has no area"),
        ({"category_id": 1}, "no bounding_box"),
        ({"bounding_box": [0, 0, 5, 5]}, "no category_id"),
        ({"category_id": 1, "bounding_box": [0, 0, "x", 5]}, "not 4 numbers"),
        ("oops", "not an object"),
    ],
)
def test_bad_items_are_reported_and_skipped(tmp_path, item, expected):
    good = {"category_id": 9, "bounding_box": [0, 0, 5, 5], "landmarks": [0.0] * 24}
    path = tmp_path / "000004.json"
    path.write_text(json.dumps({"source": "user", "item1": good, "item2": item}))
    messages = []
    record = read_df2_anno(path, on_error=messages.append)
    assert len(record.garments) == 1
    assert messages[0].startswith(f"{path}: item2: ") and expected in messages[0]


def test_split_reports_bad_files_and_goes_on(tmp_path):
    write_df2_split(sample_set(), tmp_path)
    (tmp_path / "annos" / "broken.json").write_text("{")
    (tmp_path / "annos" / "1.json").write_text("{}")  # id 1 again
    messages = []
    aset = read_df2_split(tmp_path, messages.append)
    assert [i.id for i in aset] == [1, 2, 3]
    assert any("000001.json" not in m and "1.json: image id 1 repeats" in m for m in messages)
    assert any("broken.json" in m and "malformed JSON" in m for m in messages)


def test_split_errors(tmp_path):
    with pytest.raises(InputError, match="no annos/ folder"):
        read_df2_split(tmp_path)
    (tmp_path / "annos").mkdir()
    with pytest.raises(InputError, match="no annotation files"):
        read_df2_split(tmp_path)
    with pytest.raises(FormatError, match="no number"):
        image_id_from_name("cover.json")


def test_image_ids_follow_deepfashion2_numbers_else_count_on():
    assert image_ids_from_names(["000123.jpg", "a/000007.png"]) == [123, 7]
    assert image_ids_from_names(["000005.jpg", "cat.jpg", "dog.png", "000002.jpg"]) == [5, 6, 7, 2]
    assert image_ids_from_names(["img_00000128.jpg"]) == [128]


def test_a_repeated_number_is_kept_by_its_first_name_only():
    names = ["flatlay/000001.jpg", "flatlay/000002.jpg", "marker/000001.jpg", "marker/000002.jpg"]
    assert image_ids_from_names(names) == [1, 2, 3, 4]
    assert image_ids_from_names(["000009.jpg", "x/000009.jpg", "000010.jpg"]) == [9, 11, 10]
