import numpy as np
import pytest

from garmentcli.errors import FormatError, SchemaError
from garmentcli.io.visibility import from_codes, to_codes
from garmentcli.schema import DF2, NUM_LANDMARKS, Garment, mirror_name
from garmentcli.schema.fld import FLD_LANDMARKS, df2_names_for, df2_to_fld
from garmentcli.schema.garments import landmarks_from_flat
from garmentcli.schema.layout import parse_layout


def test_layout_matches_the_reference(shared_reference):
    ref = shared_reference
    assert DF2.ids == [c["id"] for c in ref["categories"]]
    for ours, theirs in zip(DF2.categories, ref["categories"], strict=True):
        assert ours.name == theirs["name"]
        assert list(ours.landmarks) == theirs["names"]
        assert ours.offset == theirs["offset"]
        assert ours.num_landmarks == theirs["num_keypoints"]
        pairs = [(i + 1, int(j) + 1) for i, j in enumerate(ours.flip_index) if i < j]
        assert sorted(pairs) == sorted(map(tuple, theirs["flip_pairs"]))
    np.testing.assert_array_equal(DF2.oks_sigmas, ref["oks_sigmas"])
    assert list(DF2.semantic_groups) == sorted(ref["semantic_groups"])


def test_layout_shape_without_reference():
    assert sum(c.num_landmarks for c in DF2.categories) == NUM_LANDMARKS == 294
    assert len(DF2.categories) == 13
    assert len(DF2.semantic_groups) == 77
    assert DF2.oks_sigmas.shape == (294,)
    assert DF2.category("trousers").id == 8
    assert DF2.category(9).name == "skirt"
    with pytest.raises(SchemaError, match="unknown garment category 14"):
        DF2.category(14)


def test_flip_index_is_an_involution_that_mirrors_names():
    flip = DF2.flip_index
    np.testing.assert_array_equal(flip[flip], np.arange(NUM_LANDMARKS))
    names = [n for c in DF2.categories for n in c.landmarks]
    assert all(names[flip[k]] == mirror_name(names[k]) for k in range(NUM_LANDMARKS))
    owner = np.concatenate([np.full(c.num_landmarks, c.id) for c in DF2.categories])
    assert all(owner[flip[k]] == owner[k] for k in range(NUM_LANDMARKS))


def test_outline_covers_every_landmark():
    for category in DF2.categories:
        used = {i for chain in category.outline_indices() for i in chain}
        assert used == set(range(category.num_landmarks)), category.name


def test_group_of_names_the_landmark():
    names = [n for c in DF2.categories for n in c.landmarks]
    assert [DF2.semantic_groups[g] for g in DF2.group_of] == names


def test_parse_layout_rejects_inconsistent_documents():
    base = {"id": 1, "name": "x", "landmarks": ["a_l", "a_r"], "oks_sigmas": [0.1, 0.1], "outline": [["a_l", "a_r"]]}
    with pytest.raises(SchemaError, match="1 sigmas for 2 landmarks"):
        parse_layout({"categories": [{**base, "oks_sigmas": [0.1]}]})
    with pytest.raises(SchemaError, match="no flip partner"):
        parse_layout({"categories": [{**base, "landmarks": ["a_l", "b"], "outline": []}]})
    with pytest.raises(SchemaError, match="expected 294"):
        parse_layout({"categories": [base]})


def test_garment_vector_round_trip_and_validation():
    rng = np.random.default_rng(0)
    category = DF2.category("skirt")
    landmarks = np.column_stack([rng.uniform(0, 100, (8, 2)), np.full(8, 2)])
    garment = Garment(9, [1, 2, 30, 40], landmarks)
    vector = garment.slots()
    assert vector.shape == (294, 3)
    assert np.count_nonzero(vector[: category.offset]) == 0
    np.testing.assert_array_equal(landmarks_from_flat(9, vector.ravel().tolist()), landmarks)
    fld = Garment(103, [1, 2, 30, 40], np.ones((8, 3))).slots()
    assert fld.shape == (8, 3)
    garment.validate()
    with pytest.raises(FormatError, match="skirt needs 8 landmarks, got 7"):
        Garment(9, [1, 2, 3, 4], landmarks[:7]).validate()
    with pytest.raises(FormatError, match="NaN"):
        Garment(9, [1, 2, np.nan, 4], landmarks).validate()
    with pytest.raises(FormatError, match="no area"):
        Garment(9, [1, 2, 0, 4], landmarks).validate()
    with pytest.raises(FormatError, match="881 values"):
        landmarks_from_flat(9, [0.0] * 881)


def test_fld_mapping_and_visibility():
    assert FLD_LANDMARKS[0] == "left_collar"
    assert df2_names_for("left_sleeve", DF2.category("long_sleeved_shirt")) == ("cuff_outer_l", "cuff_inner_l")
    assert df2_names_for("left_sleeve", DF2.category("vest")) == ("armpit_l",)
    assert df2_names_for("left_hem", DF2.category("trousers")) == ("leg_outer_l", "leg_inner_l")
    assert df2_names_for("left_collar", DF2.category("skirt")) is None
    v = np.array([0, 1, 2])
    np.testing.assert_array_equal(from_codes(v, "fld"), [2, 1, 0])
    np.testing.assert_array_equal(to_codes(from_codes(v, "fld"), "fld"), v)


def test_df2_to_fld_averages_the_cuff():
    category = DF2.category("long_sleeved_shirt")
    landmarks = np.zeros((category.num_landmarks, 3))
    landmarks[category.index["cuff_outer_l"]] = [10, 20, 2]
    landmarks[category.index["cuff_inner_l"]] = [20, 40, 1]
    fld = df2_to_fld(landmarks, category.id)
    np.testing.assert_array_equal(fld[2], [15, 30, 1])
    assert fld[0, 2] == 0  # collar unlabelled stays empty
