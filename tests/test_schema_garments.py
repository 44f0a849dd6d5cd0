import numpy as np
import pytest

from garmentcli.errors import FormatError, SchemaError
from garmentcli.schema.fld import FLD_LANDMARKS
from garmentcli.schema.garments import category_id_of, landmark_names, landmarks_from_flat, validate_garment
from garmentcli.schema.records import Garment


@pytest.mark.parametrize(
    ("key", "expected"),
    [(3, 3), (np.int64(3), 3), (3.0, 3), ("3", 3), ("trousers", 8), ("Short sleeved shirt", 1), ("vest-dress", 12),
     ("fld_upper_body", 101), (103, 103)],
)  # fmt: skip
def test_category_ids_from_ids_and_names(key, expected):
    assert category_id_of(key) == expected


@pytest.mark.parametrize("key", [0, 14, 104, 2.5, "cape", None, [1]])
def test_unknown_categories(key):
    with pytest.raises(SchemaError, match="unknown garment category"):
        category_id_of(key)


def test_landmark_vectors_of_both_lengths():
    vector = np.arange(882, dtype=float)
    skirt = landmarks_from_flat(9, vector.tolist())
    np.testing.assert_array_equal(skirt, vector.reshape(294, 3)[182:190])
    assert skirt.base is None or skirt.base.size == skirt.size  # a copy, not a view into the 882 values
    np.testing.assert_array_equal(landmarks_from_flat(9, list(range(24))).ravel(), range(24))
    np.testing.assert_array_equal(landmarks_from_flat(9, None), np.zeros((8, 3)))
    with pytest.raises(FormatError, match="skirt needs 24 or 882"):
        landmarks_from_flat(9, [1, 2, 3])
    with pytest.raises(FormatError, match="fld_full_body needs 24$"):
        landmarks_from_flat(103, [0.0] * 882)
    assert landmark_names(102) == FLD_LANDMARKS


@pytest.mark.parametrize(
    ("garment", "message"),
    [
        (Garment(9, [0, 0, 5, 5], np.zeros((7, 3))), "skirt needs 8 landmarks, got 7"),
        (Garment(9, [0, 0, 5, 0], np.zeros((8, 3))), "box has no area"),
        (Garment(9, [0, 0, 5, 5], np.zeros((8, 3)), score=float("nan")), "score is NaN"),
        (Garment(101, [0, 0, 5, 5], np.zeros((6, 3))), "FLD garments need 8 landmark slots, got 6"),
        (Garment(101, [0, 0, 5, np.inf], np.zeros((8, 3))), "NaN or infinite"),
        (Garment(101, [0, 0, -1, 5], np.zeros((8, 3))), "box has no area"),
        (Garment(55, [0, 0, 5, 5], np.zeros((8, 3))), "unknown garment category 55"),
    ],
)
def test_validation_messages(garment, message):
    with pytest.raises(FormatError, match=message):
        validate_garment(garment)


def test_huge_but_finite_values_pass():
    validate_garment(Garment(9, [0, 0, 1e308, 1e308], np.full((8, 3), 1e308)))
