"""Measurement definitions: the bundled data against hand-computed distances, and the validating parser."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from garmentcli.errors import FormatError, InputError, SchemaError
from garmentcli.measure.definitions import (
    bundled_definitions,
    load_definitions,
    measure_garment,
    measure_points,
    parse_definitions,
)
from garmentcli.schema.layout import DF2


def _points(category: str, named: dict[str, tuple[float, float]]) -> np.ndarray:
    """A (K, 2) array for the category with the named points set (others far away, at -1000)."""
    cat = DF2.category(category)
    points = np.full((cat.num_landmarks, 2), -1000.0)
    for name, xy in named.items():
        points[cat.index[name]] = xy
    return points


def test_skirt_measurements_match_hand_computed_distances():
    points = _points(
        "skirt",
        {
            "waist_l": (10, 0), "waist_center": (25, 1), "waist_r": (40, 0),
            "hip_l": (6, 20), "hip_r": (44, 20),
            "hem_l": (0, 60), "hem_center": (25, 65), "hem_r": (50, 60),
        },
    )  # fmt: skip
    result = measure_points(DF2.category("skirt").id, points)
    assert result["waist"] == pytest.approx(30.0)
    assert result["hip"] == pytest.approx(38.0)
    assert result["length"] == pytest.approx(64.0)
    # hem sweep: hem_l -> hem_center -> hem_r along the outline, two 25 x 5 segments
    assert result["hem_sweep"] == pytest.approx(2 * math.hypot(25, 5))
    assert set(result) == {"waist", "hip", "length", "hem_sweep"}


def test_tee_body_length_is_the_drop_to_the_hem_line_and_sleeves_are_averaged():
    points = _points(
        "short_sleeved_shirt",
        {
            "neck_l": (20, 0), "neck_r": (36, 2), "shoulder_l": (8, 4), "shoulder_r": (48, 4),
            "sleeve_outer_l": (0, 14), "cuff_outer_l": (-4, 22), "cuff_inner_l": (6, 26),
            "sleeve_outer_r": (56, 14), "cuff_outer_r": (62, 20), "cuff_inner_r": (52, 26),
            "armpit_l": (10, 24), "armpit_r": (46, 24), "hem_l": (10, 70), "hem_r": (46, 70),
        },
    )  # fmt: skip
    result = measure_points(1, points)
    # drop from neck_l (y=0) and neck_r (y=2) to the horizontal hem line y=70, averaged
    assert result["body_length"] == pytest.approx((70 + 68) / 2)
    assert result["chest_width"] == pytest.approx(36.0)
    assert result["shoulder_width"] == pytest.approx(40.0)
    left = math.hypot(8, 10) + math.hypot(4, 8)
    right = math.hypot(8, 10) + math.hypot(6, 6)
    assert result["sleeve_length"] == pytest.approx((left + right) / 2)
    assert result["sleeve_opening"] == pytest.approx((math.hypot(10, 4) + math.hypot(10, 6)) / 2)
    assert result["hem_width"] == pytest.approx(36.0)
    assert result["neck_width"] == pytest.approx(math.hypot(16, 2))
    assert result["armhole"] == pytest.approx((math.hypot(2, 20) + math.hypot(2, 20)) / 2)


def test_drop_is_perpendicular_to_a_slanted_line():
    points = _points("vest", {"neck_l": (0, 0), "neck_r": (0, 0), "hem_l": (0, 10), "hem_r": (10, 0)})
    # distance from the origin to the line x + y = 10
    assert measure_points(5, points)["body_length"] == pytest.approx(10 / math.sqrt(2))


def test_trouser_outseam_and_inseam_follow_the_outline_through_the_knee_using_the_labelled_leg():
    points = _points(
        "trousers",
        {
            "waist_l": (0, 0), "hip_l": (-2, 20), "knee_outer_l": (0, 60), "leg_outer_l": (1, 100),
            "crotch": (20, 30), "knee_inner_l": (14, 62), "leg_inner_l": (12, 100),
            "waist_r": (40, 0), "waist_center": (20, 0),
        },
    )  # fmt: skip
    outseam_left = math.hypot(2, 20) + math.hypot(2, 40) + math.hypot(1, 40)
    inseam_left = math.hypot(6, 32) + math.hypot(2, 38)
    visibility = np.full(14, 2)
    visibility[[DF2.category("trousers").index[n] for n in ("hip_r", "leg_outer_r", "leg_inner_r")]] = 0
    flagged = measure_points(8, points, visibility)
    assert flagged["outseam"] == pytest.approx(outseam_left)
    assert flagged["inseam"] == pytest.approx(inseam_left)
    assert flagged["front_rise"] == pytest.approx(30.0)
    assert flagged["hip"] is None


def test_missing_and_occluded_landmarks_give_reasons_and_flags():
    cat = DF2.category("skirt")
    points = np.arange(16, dtype=float).reshape(8, 2) * 5
    states = np.full(8, 2)
    states[cat.index["hip_l"]] = 0
    states[cat.index["waist_l"]] = 1
    measured = measure_garment(cat.id, points, states)
    assert measured["hip"].value is None
    assert measured["hip"].reason == "missing hip_l"
    assert measured["waist"].occluded and measured["waist"].value is not None
    assert measured["waist"].reason == "occluded landmarks"
    assert not measured["length"].occluded and measured["length"].reason == ""


def test_mirrored_side_prefers_the_visible_side_over_the_occluded_one():
    cat = DF2.category("shorts")
    points = _points(
        "shorts",
        {"waist_l": (0, 0), "hip_l": (0, 10), "leg_outer_l": (0, 30), "waist_r": (40, 0), "hip_r": (40, 10),
         "leg_outer_r": (40, 50)},
    )  # fmt: skip
    states = np.full(cat.num_landmarks, 2)
    states[cat.index["hip_r"]] = 1
    measured = measure_garment(cat.id, points, states)
    assert measured["outseam"].value == pytest.approx(30.0)
    assert not measured["outseam"].occluded


def test_every_category_has_bundled_measurements_and_names_are_unique():
    definitions = bundled_definitions()
    assert set(definitions.by_category) == set(DF2.ids)
    for definitions_of_category in definitions.by_category.values():
        names = [d.name for d in definitions_of_category]
        assert len(names) == len(set(names))
    assert "front_length" in definitions.names(3) and "front_length" not in definitions.names(1)
    assert "sleeve_length" not in definitions.names(6)  # slings have straps, not sleeves


def test_unknown_category_raises_schema_error():
    with pytest.raises(SchemaError, match="unknown garment category 99"):
        measure_points(99, np.zeros((8, 2)))


def test_wrong_point_count_is_a_format_error():
    with pytest.raises(FormatError, match="skirt needs 8 points, got 3"):
        measure_points(9, np.zeros((3, 2)))


def _entry(**overrides):
    entry = {"name": "chest", "categories": ["vest"], "method": "distance", "landmarks": ["armpit_l", "armpit_r"]}
    entry.update(overrides)
    return {"measurements": [entry]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            _entry(landmarks=["armpit_l", "elbow"]),
            r"measurement 1 \(chest\): unknown landmark 'elbow' for category vest",
        ),
        (_entry(method="geodesic"), r"method: Input should be 'distance', 'outline' or 'drop' \(got 'geodesic'\)"),
        (_entry(categories=["kimono"]), r"unknown category 'kimono'"),
        (_entry(method="drop"), r"method drop takes 3 landmarks, got 2"),
        (_entry(mirror="yes"), r"mirror: Input should be a valid boolean \(got 'yes'\)"),
        (_entry(colour="red"), r"\(chest\): colour: unknown field"),
        (_entry(name="chest width"), r"name: must be a word such as chest_width \(got 'chest width'\)"),
        ({"measurements": [{"name": "x"}]}, r"measurement 1 \(x\): categories: missing"),
        ({"measures": []}, r"expected a mapping with a 'measurements' list"),
        (_entry(method="outline", landmarks=["armpit_l", "neck_back"]), r"share no outline polyline in vest"),
    ],
)
def test_malformed_definitions_give_one_line_errors(document, message):
    with pytest.raises(FormatError, match=message) as caught:
        parse_definitions(document, "mine.yaml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("mine.yaml: ")


def test_duplicate_definition_for_a_category_is_rejected():
    document = _entry()
    document["measurements"].append(document["measurements"][0])
    with pytest.raises(FormatError, match="measurement 2 \\(chest\\): chest is defined twice for category vest"):
        parse_definitions(document, "mine.yaml")


def test_user_definitions_from_json_and_yaml_files(tmp_path):
    as_json = tmp_path / "defs.json"
    as_json.write_text(json.dumps(_entry()))
    as_yaml = tmp_path / "defs.yaml"
    as_yaml.write_text(
        "measurements:\n  - {name: chest, categories: vest, method: distance, landmarks: [armpit_l, armpit_r]}\n"
    )
    points = np.zeros((15, 2))
    points[DF2.category("vest").index["armpit_r"]] = (3, 4)
    for path in (as_json, as_yaml):
        assert measure_points(5, points, definitions=load_definitions(path)) == {"chest": 5.0}
        assert measure_points(1, np.zeros((25, 2)), definitions=load_definitions(path)) == {}


def test_unreadable_or_unparsable_definition_files(tmp_path):
    with pytest.raises(InputError, match="missing.yaml: cannot read definitions"):
        load_definitions(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("measurements: [\n")
    with pytest.raises(FormatError, match="broken.yaml: not valid YAML"):
        load_definitions(broken)
    broken_json = tmp_path / "broken.json"
    broken_json.write_text("{")
    with pytest.raises(FormatError, match="broken.json: not valid JSON"):
        load_definitions(broken_json)
