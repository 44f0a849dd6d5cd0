"""Layout-aware augmentation: flips rename landmarks to their partners, crops keep visibility honest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment
from garmentcli.train.augment import AugmentConfig, augment_sample, warp_garment, warp_sample

SIZE = 64
FLIP_ONLY = dataclasses.replace(AugmentConfig.off(), flip_prob=1.0)


def _garment(category_id: int, rng: np.random.Generator) -> Garment:
    k = DF2.category(category_id).num_landmarks
    landmarks = np.column_stack([rng.uniform(5, SIZE - 6, size=(k, 2)), np.full(k, 2.0)])
    return Garment(category_id, [4.0, 4.0, SIZE - 9.0, SIZE - 9.0], landmarks)


@pytest.mark.parametrize("category", DF2.categories, ids=lambda c: c.name)
def test_flip_moves_every_landmark_to_its_partner(category) -> None:
    rng = np.random.default_rng(category.id)
    garment = _garment(category.id, rng)
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    _, (flipped,), _ = warp_sample(image, [garment], SIZE, FLIP_ONLY, rng)
    for i, name in enumerate(category.landmarks):
        side = {"_l": "_r", "_r": "_l"}.get(name[-2:])
        partner = category.index[name[:-2] + side] if side else i
        assert partner == category.flip_index[i]
        # the point that was landmark i is now landmark `partner`, mirrored about the canvas centre
        np.testing.assert_allclose(flipped.landmarks[partner, 0], SIZE - 1 - garment.landmarks[i, 0], atol=1e-9)
        np.testing.assert_allclose(flipped.landmarks[partner, 1], garment.landmarks[i, 1], atol=1e-9)
    np.testing.assert_allclose(flipped.bbox, [SIZE - 1 - (SIZE - 5.0), 4.0, SIZE - 9.0, SIZE - 9.0], atol=1e-9)


def test_flip_twice_is_identity_on_the_294_layout() -> None:
    assert np.array_equal(DF2.flip_index[DF2.flip_index], np.arange(294))
    for category in DF2.categories:
        left = [n for n in category.landmarks if n.endswith("_l")]
        assert all(category.landmarks[category.flip_index[category.index[n]]] == n[:-2] + "_r" for n in left)


def test_letterbox_keeps_aspect_and_centres() -> None:
    image = np.full((100, 200, 3), 255, np.uint8)
    canvas, _, matrix = warp_sample(image, [], 256, AugmentConfig.off(), np.random.default_rng(0))
    np.testing.assert_allclose(matrix, [[1.28, 0, 0], [0, 1.28, 64], [0, 0, 1]])
    assert canvas.shape == (256, 256, 3)
    assert canvas[128, 128, 0] == 255 and canvas[10, 128, 0] == 114 and canvas[250, 128, 0] == 114


def test_shifted_garment_loses_landmarks_off_canvas_and_box_is_clipped() -> None:
    landmarks = np.array([[10.0, 30.0, 2], [50.0, 30.0, 1], [60.0, 40.0, 0]])
    garment = Garment(9, [8.0, 20.0, 50.0, 30.0], np.vstack([landmarks, np.zeros((5, 3))]))
    shift = np.array([[1.0, 0, 20.0], [0, 1.0, 0], [0, 0, 1.0]])
    moved = warp_garment(garment, shift, SIZE, flip=False, min_visible_fraction=0.3)
    assert moved is not None
    np.testing.assert_allclose(moved.landmarks[0], [30.0, 30.0, 2])
    np.testing.assert_allclose(moved.landmarks[1], [0.0, 0.0, 0.0])  # x = 70 left the 64-px canvas
    np.testing.assert_allclose(moved.landmarks[2], [0.0, 0.0, 0.0])  # was unlabelled, stays unlabelled
    np.testing.assert_allclose(moved.bbox, [28.0, 20.0, 36.0, 30.0])  # 28..78 clipped to 28..64
    far = np.array([[1.0, 0, 50.0], [0, 1.0, 0], [0, 0, 1.0]])
    assert warp_garment(garment, far, SIZE, flip=False, min_visible_fraction=0.3) is None  # 6 of 50 px left


def test_image_and_landmarks_move_together_under_random_geometry() -> None:
    rng = np.random.default_rng(3)
    image = np.zeros((90, 120, 3), np.uint8)
    image[40:43, 70:73] = 255  # a bright 3x3 dot centred on (71, 41)
    landmarks = np.zeros((8, 3))
    landmarks[0] = [71.0, 41.0, 2]
    garment = Garment(9, [30.0, 20.0, 60.0, 50.0], landmarks)
    config = dataclasses.replace(
        AugmentConfig(), blur_prob=0.0, noise_prob=0.0, jpeg_prob=0.0, min_visible_fraction=0.0
    )
    for _ in range(10):
        canvas, garments, _ = augment_sample(image, [garment], 128, config, rng)
        (moved,) = garments
        brightest = np.unravel_index(np.argmax(canvas.sum(axis=2)), canvas.shape[:2])
        point = moved.landmarks[moved.category.flip_index[0]] if moved.landmarks[0, 2] == 0 else moved.landmarks[0]
        assert point[2] == 2
        assert abs(brightest[1] - point[0]) <= 1.5 and abs(brightest[0] - point[1]) <= 1.5
