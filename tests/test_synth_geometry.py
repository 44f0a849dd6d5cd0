"""Garment geometry: landmark layout per category, outlines through landmarks, measurements from charts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from garmentcli.measure.definitions import measure_points
from garmentcli.schema.layout import DF2
from garmentcli.synth.charts import bundled_charts, sample_spec
from garmentcli.synth.curves import smooth_chain
from garmentcli.synth.geometry import build_shape, templates

CATEGORY_IDS = [c.id for c in DF2.categories]


def _shape(category_id: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return build_shape(sample_spec(category_id, rng), rng)


def _min_distance(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - polyline[None, :, :]) ** 2).sum(-1)).min(axis=1)


def test_smooth_chain_passes_through_every_node_and_keeps_straight_runs_straight():
    nodes = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [20.0, 10.0], [5.0, 12.0]])
    corners = np.array([True, False, True, False, False])
    ring = smooth_chain(nodes, corners, closed=True, step=0.5)
    assert _min_distance(nodes, ring).max() == 0.0
    near_top = ring[(ring[:, 0] > 1) & (ring[:, 0] < 19) & (ring[:, 1] < 1)]
    assert len(near_top) >= 30
    np.testing.assert_array_equal(near_top[:, 1], 0.0)  # the collinear run 0..10..20 stays straight


@pytest.mark.parametrize("category_id", CATEGORY_IDS)
def test_landmark_count_order_and_sides_match_the_schema(category_id):
    category = DF2.category(category_id)
    shape = _shape(category_id)
    assert shape.landmarks.shape == (category.num_landmarks, 2)
    for i, name in enumerate(category.landmarks):
        np.testing.assert_array_equal(shape.landmarks[i], shape.points[name])
        # viewer's left is x < 0 in the garment frame, right x > 0, centre points on x = 0
        if name.endswith("_l"):
            assert shape.landmarks[i, 0] < 0, name
        elif name.endswith("_r"):
            assert shape.landmarks[i, 0] > 0, name
        else:
            assert shape.landmarks[i, 0] == 0, name


@pytest.mark.parametrize("category_id", CATEGORY_IDS)
def test_every_landmark_is_a_vertex_of_the_silhouette_or_the_inner_outline(category_id):
    category = DF2.category(category_id)
    template = templates()["categories"][category.name]
    shape = _shape(category_id, seed=category_id)
    on_silhouette = [category.index[n] for n in template["silhouette"]]
    assert _min_distance(shape.landmarks[on_silhouette], shape.silhouette).max() < 1e-9
    inner = [category.index[n] for n in (template["inner"] or [])]
    if inner:
        assert _min_distance(shape.landmarks[inner], shape.inner).max() < 1e-9
    assert set(on_silhouette) | set(inner) == set(range(category.num_landmarks))


@pytest.mark.parametrize("category_id", CATEGORY_IDS)
def test_garment_without_sleeve_noise_is_mirror_symmetric_under_the_flip_index(category_id):
    rng = np.random.default_rng(3)
    spec = sample_spec(category_id, rng)

    class NoNoise:
        """The builder's random source with the per-side jitter switched off."""

        def normal(self, loc=0.0, scale=1.0, size=None):
            return np.zeros(size) if size else 0.0

        def random(self):
            return 0.0

    shape = build_shape(spec, NoNoise())
    category = DF2.category(category_id)
    mirrored = shape.landmarks[category.flip_index] * [-1, 1]
    np.testing.assert_allclose(mirrored, shape.landmarks, atol=1e-9)


def test_measurements_of_an_undeformed_garment_equal_its_size_chart():
    rng = np.random.default_rng(7)
    checks = {
        "short_sleeved_shirt": [
            "chest_width",
            "shoulder_width",
            "body_length",
            "sleeve_length",
            "sleeve_opening",
            "hem_width",
        ],
        "long_sleeved_outwear": ["chest_width", "body_length", "sleeve_length", "sleeve_opening"],
        "trousers": ["waist", "hip", "inseam", "leg_opening"],
        "shorts": ["waist", "hip", "inseam", "leg_opening"],
        "vest_dress": ["chest"],
    }
    chart_names = {"chest": "chest_width"}
    for name, keys in checks.items():
        category = DF2.category(name)
        spec = sample_spec(category.id, rng)
        flat = {"sleeve_angle_deg": 30.0, "sleeve_bend_deg": 0.0, "sleeve_fold_probability": 0.0, "leg_angle_deg": 2.0}
        spec = replace(spec, style={**spec.style, **flat})
        shape = build_shape(spec, rng)
        measured = measure_points(category.id, shape.landmarks)
        for key in keys:
            assert measured[key] == pytest.approx(spec.measurements[chart_names.get(key, key)], abs=1e-6), (name, key)


def test_charts_cover_every_category_and_grade_upwards():
    charts = bundled_charts()
    assert set(charts.measurements) == set(DF2.by_name)
    for name, table in charts.measurements.items():
        for key, (base, grade, spread) in table.items():
            assert base > 0 and grade >= 0 and spread >= 0, (name, key)
