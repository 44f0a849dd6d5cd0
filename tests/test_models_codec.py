"""TargetCodec: targets rendered from ground truth decode back to the same garments (oracle: the input)."""

from __future__ import annotations

import numpy as np
import pytest

from garmentcli.models.codec import (
    GROUP_FLIP,
    DecodeOptions,
    TargetCodec,
    _window_argmax,
    gaussian_radius,
    merge_flip,
)
from garmentcli.models.config import OUTPUT_STRIDE, ModelConfig
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment

CONFIG = ModelConfig(input_size=128, max_objects=4)


def _garment(category_id: int, box: tuple[float, float, float, float], seed: int) -> Garment:
    rng = np.random.default_rng(seed)
    x, y, w, h = box
    k = DF2.category(category_id).num_landmarks
    points = np.column_stack([rng.uniform(x, x + w, k), rng.uniform(y, y + h, k), np.full(k, 2.0)])
    points[:2, :2] = [[x, y], [x + w, y + h]]  # the landmarks span the box, as on a garment's outline
    return Garment(category_id, [x, y, w, h], points)


def _outputs_from_targets(targets: dict[str, np.ndarray], config: ModelConfig) -> dict[str, np.ndarray]:
    """Dense head outputs a perfect network would give: targets scattered at their cells (batch of 1)."""
    size, groups = config.input_size // OUTPUT_STRIDE, config.num_groups
    dense = {
        "center_offset": np.zeros((2, size * size), np.float32),
        "box_size": np.zeros((2, size * size), np.float32),
        "landmark_regression": np.zeros((groups, 2, size * size), np.float32),
        "landmark_offset": np.zeros((groups, 2, size * size), np.float32),
    }
    objects = np.flatnonzero(targets["object_mask"])
    cells = targets["indices"][objects]
    dense["center_offset"][:, cells] = targets["center_offset"][objects].T
    dense["box_size"][:, cells] = targets["box_size"][objects].T
    for m, cell in zip(objects, cells, strict=True):
        labelled = np.flatnonzero(targets["landmark_mask"][m])
        dense["landmark_regression"][labelled, :, cell] = targets["landmark_regression"][m, labelled]
        dense["landmark_offset"][labelled, :, targets["landmark_indices"][m, labelled]] = targets["landmark_offset"][
            m, labelled
        ]
    outputs = {name: value.reshape(1, -1, size, size) for name, value in dense.items()}
    outputs["center_heatmap"] = targets["center_heatmap"][None]
    outputs["landmark_heatmap"] = targets["landmark_heatmap"][None]
    return outputs


GARMENTS = [
    _garment(1, (10.3, 12.7, 50.2, 60.9), 1),
    _garment(8, (70.6, 20.1, 40.4, 90.3), 2),
    _garment(13, (5.0, 80.0, 30.0, 40.0), 3),
]


@pytest.mark.parametrize(
    "options",
    [DecodeOptions(score_thr=0.5), DecodeOptions.plain(score_thr=0.5)],
    ids=["deepmark++", "plain"],
)
def test_round_trip_recovers_boxes_and_landmarks_within_a_pixel(options):
    codec = TargetCodec(CONFIG)
    targets = codec.encode(GARMENTS, (CONFIG.input_size, CONFIG.input_size))
    (decoded,) = codec.decode(_outputs_from_targets(targets, CONFIG), options)
    assert sorted(g.category_id for g in decoded) == [1, 8, 13]
    for truth in GARMENTS:
        (found,) = [g for g in decoded if g.category_id == truth.category_id]
        np.testing.assert_allclose(found.bbox, truth.bbox, atol=1.0)
        np.testing.assert_allclose(found.landmarks[:, :2], truth.landmarks[:, :2], atol=1.0)
        assert found.landmarks.shape == truth.landmarks.shape
        assert found.score > 0.75  # smoothing lowers lone peaks (centre ~0.87, small landmarks ~0.54)


def test_encode_masks_unlabelled_and_off_grid_landmarks_and_caps_objects():
    garment = _garment(9, (20.0, 20.0, 40.0, 40.0), 4)
    garment.landmarks[0, 2] = 0  # not labelled
    garment.landmarks[1, :2] = (500.0, 10.0)  # off the grid
    codec = TargetCodec(CONFIG)
    targets = codec.encode([garment], (128, 128))
    groups = DF2.group_of[DF2.category(9).slice]
    assert targets["landmark_mask"][0, groups].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert targets["landmark_mask"].sum() == 6
    assert targets["object_mask"].tolist() == [1, 0, 0, 0]
    many = codec.encode([garment] * 6, (128, 128))
    assert many["object_mask"].sum() == CONFIG.max_objects


def test_encode_values_match_the_centernet_definitions():
    garment = _garment(7, (8.0, 16.0, 20.0, 12.0), 5)
    targets = TargetCodec(CONFIG).encode([garment], (128, 128))
    width = CONFIG.input_size // OUTPUT_STRIDE
    assert targets["indices"][0] == 5 * width + 4  # centre (18, 22) / 4 = (4.5, 5.5)
    np.testing.assert_allclose(targets["center_offset"][0], [0.5, 0.5])
    np.testing.assert_allclose(targets["box_size"][0], [5.0, 3.0])
    assert targets["center_heatmap"][6, 5, 4] == 1.0
    assert targets["center_heatmap"].max() == 1.0
    radius = int(gaussian_radius(np.array(3.0), np.array(5.0)))
    assert np.count_nonzero(targets["center_heatmap"][6]) == (2 * radius + 1) ** 2


def test_merge_flip_of_a_mirrored_pass_is_the_identity():
    codec = TargetCodec(CONFIG)
    targets = codec.encode(GARMENTS, (128, 128))
    outputs = _outputs_from_targets(targets, CONFIG)
    mirrored = {name: value[..., ::-1] for name, value in outputs.items()}
    mirrored["landmark_heatmap"] = mirrored["landmark_heatmap"][:, GROUP_FLIP]
    b, _, h, w = outputs["landmark_regression"].shape
    regression = mirrored["landmark_regression"].reshape(b, -1, 2, h, w)[:, GROUP_FLIP].copy()
    regression[:, :, 0] *= -1
    mirrored["landmark_regression"] = regression.reshape(b, -1, h, w)
    merged = merge_flip(outputs, mirrored)
    for name, value in outputs.items():
        np.testing.assert_allclose(merged[name], value, atol=1e-6, err_msg=name)


def test_group_flip_is_an_involution_matching_the_landmark_flip():
    assert np.array_equal(GROUP_FLIP[GROUP_FLIP], np.arange(len(GROUP_FLIP)))
    assert np.array_equal(GROUP_FLIP[DF2.group_of], DF2.group_of[DF2.flip_index])


def test_box_blends_the_landmark_extent_with_the_regressed_box():
    codec = TargetCodec(CONFIG)
    targets = codec.encode(GARMENTS[:1], (128, 128))
    outputs = _outputs_from_targets(targets, CONFIG)
    outputs["box_size"] *= 1.5  # the regressed box is now too large by half
    x, y, w, h = GARMENTS[0].bbox
    regressed = np.array([x + w / 2 - 0.75 * w, y + h / 2 - 0.75 * h, 1.5 * w, 1.5 * h])
    (alone,) = codec.decode(outputs, DecodeOptions(score_thr=0.1, box_landmark_weight=None))
    np.testing.assert_allclose(alone[0].bbox, regressed, atol=1e-3)
    (extent,) = codec.decode(outputs, DecodeOptions(score_thr=0.1, box_landmark_weight=1.0))
    points = extent[0].landmarks[:, :2]
    np.testing.assert_allclose(extent[0].bbox, [*points.min(0), *(points.max(0) - points.min(0))], atol=1e-4)
    (blend,) = codec.decode(outputs, DecodeOptions(score_thr=0.1, box_landmark_weight=0.75))
    np.testing.assert_allclose(blend[0].bbox, 0.75 * np.asarray(extent[0].bbox) + 0.25 * regressed, atol=1e-3)


def test_rescoring_pulls_the_landmark_to_the_peak_near_the_regressed_position():
    codec = TargetCodec(CONFIG)
    targets = codec.encode(GARMENTS[:1], (128, 128))
    outputs = _outputs_from_targets(targets, CONFIG)
    group = DF2.group_of[0]
    true_cell = np.unravel_index(outputs["landmark_heatmap"][0, group].argmax(), (32, 32))
    decoy = ((true_cell[0] + 16) % 32, (true_cell[1] + 16) % 32)
    outputs["landmark_heatmap"][0, group][decoy] = 1.0  # a stronger peak far from the regressed point
    outputs["landmark_heatmap"][0, group][true_cell] = 0.6
    (with_rescore,) = codec.decode(outputs, DecodeOptions(score_thr=0.1, rescore_divisor=9.0, blend_gamma=None))
    truth = GARMENTS[0].landmarks[0, :2]
    assert np.abs(with_rescore[0].landmarks[0, :2] - truth).max() < 1.0


def test_window_search_equals_the_full_grid_maximum():
    rng = np.random.default_rng(7)
    heat = rng.uniform(0, 1, (5, 32, 32)).astype(np.float32)
    group = rng.integers(0, 5, 40)
    centre = rng.uniform(0, 32, (40, 2))
    sigma = rng.uniform(0.5, 3.0, 40)
    x, y, score = _window_argmax(heat, group, centre, sigma, None)
    cells = np.arange(32) + 0.5
    for p in range(40):  # oracle: the Gaussian-weighted maximum over every cell
        weight = np.exp(
            -((cells[None] - centre[p, 0]) ** 2 + (cells[:, None] - centre[p, 1]) ** 2) / (2 * sigma[p] ** 2)
        )
        row, col = np.unravel_index(np.argmax(heat[group[p]] * weight), (32, 32))
        assert (x[p], y[p], score[p]) == (col, row, heat[group[p], row, col])
    boxes = np.column_stack([centre - 4, centre + 4])
    x, y, score = _window_argmax(heat, group, centre, None, boxes)
    for p in range(40):  # oracle: the plain maximum over the cells inside the box
        inside = np.zeros((32, 32), bool)
        x0, y0, x1, y1 = boxes[p]
        inside[int(max(np.floor(y0), 0)) : int(y1) + 1, int(max(np.floor(x0), 0)) : int(x1) + 1] = True
        assert score[p] == heat[group[p]][inside].max()
        assert inside[y[p], x[p]]
