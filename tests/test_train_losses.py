"""Training losses against independent NumPy formulas, and the warm-up + cosine schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from garmentcli.models.codec import TargetCodec  # noqa: E402
from garmentcli.models.config import ModelConfig  # noqa: E402
from garmentcli.schema.layout import DF2  # noqa: E402
from garmentcli.schema.records import Garment  # noqa: E402
from garmentcli.train.losses import (  # noqa: E402
    LossWeights,
    detection_losses,
    focal_loss,
    gather_landmark_offsets,
    masked_l1,
)
from garmentcli.train.schedule import warmup_cosine_factor  # noqa: E402


def test_focal_loss_matches_the_centernet_formula() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5, 5))
    target = rng.uniform(0, 0.9, size=(2, 3, 5, 5))
    target[0, 1, 2, 2] = target[1, 0, 4, 1] = 1.0
    p = 1 / (1 + np.exp(-logits))
    pos = target == 1
    expected = (
        -(
            np.sum(np.log(p[pos]) * (1 - p[pos]) ** 2)
            + np.sum(np.log(1 - p[~pos]) * p[~pos] ** 2 * (1 - target[~pos]) ** 4)
        )
        / pos.sum()
    )
    got = focal_loss(torch.from_numpy(logits), torch.from_numpy(target))
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_masked_l1_averages_only_marked_entries() -> None:
    prediction = torch.tensor([[[1.0, 2.0], [5.0, 5.0]]])
    target = torch.tensor([[[0.0, 4.0], [0.0, 0.0]]])
    mask = torch.tensor([[[1.0], [0.0]]])
    assert float(masked_l1(prediction, target, mask)) == pytest.approx((1 + 2) / 2)
    assert float(masked_l1(prediction, target, torch.zeros(1, 2, 1))) == 0.0


def test_landmark_offsets_are_read_per_group_at_their_own_cell() -> None:
    feature = torch.arange(2 * 6 * 4 * 4, dtype=torch.float32).reshape(2, 6, 4, 4)  # 3 groups x (dx, dy)
    indices = torch.tensor([[[0, 5, 15]], [[3, 3, 8]]])  # (B=2, M=1, G=3)
    got = gather_landmark_offsets(feature, indices)
    assert got.shape == (2, 1, 3, 2)
    flat = feature.reshape(2, 6, 16)
    for b in range(2):
        for g in range(3):
            cell = int(indices[b, 0, g])
            assert got[b, 0, g].tolist() == [flat[b, 2 * g, cell].item(), flat[b, 2 * g + 1, cell].item()]


def test_regression_losses_vanish_when_the_heads_output_the_targets() -> None:
    config = ModelConfig(input_size=64, max_objects=4)
    k = DF2.category(7).num_landmarks
    rng = np.random.default_rng(1)
    landmarks = np.column_stack([rng.uniform(12, 50, (k, 2)), np.full(k, 2.0)])
    targets = TargetCodec(config).encode([Garment(7, [10.0, 12.0, 41.0, 39.0], landmarks)], (64, 64))
    t = {name: torch.from_numpy(value)[None] for name, value in targets.items()}
    side, groups = 16, config.num_groups
    outputs = {
        "center_heatmap": torch.zeros(1, 13, side, side),
        "landmark_heatmap": torch.zeros(1, groups, side, side),
        "center_offset": torch.zeros(1, 2, side * side),
        "box_size": torch.zeros(1, 2, side * side),
        "landmark_regression": torch.zeros(1, 2 * groups, side * side),
        "landmark_offset": torch.zeros(1, groups, 2, side * side),
    }
    cell = int(t["indices"][0, 0])
    outputs["center_offset"][0, :, cell] = t["center_offset"][0, 0]
    outputs["box_size"][0, :, cell] = t["box_size"][0, 0]
    outputs["landmark_regression"][0, :, cell] = t["landmark_regression"][0, 0].reshape(-1)
    for g in np.flatnonzero(targets["landmark_mask"][0]):
        outputs["landmark_offset"][0, g, :, int(t["landmark_indices"][0, 0, g])] = t["landmark_offset"][0, 0, g]
    outputs = {name: value.reshape(1, -1, side, side) for name, value in outputs.items()}
    terms = detection_losses(outputs, t, LossWeights())
    for name in ("center_offset", "box_size", "landmark_regression", "landmark_offset"):
        assert float(terms[f"loss_{name}"]) == pytest.approx(0.0, abs=1e-6), name
    assert targets["landmark_mask"][0].sum() == k  # every landmark of the shorts was labelled and inside
    heat = float(focal_loss(outputs["center_heatmap"], t["center_heatmap"]))
    assert float(terms["loss"]) == pytest.approx(heat + float(terms["loss_landmark_heatmap"]), rel=1e-6)


def test_warmup_then_cosine() -> None:
    assert warmup_cosine_factor(0, 10, 110) == pytest.approx(0.1)
    assert warmup_cosine_factor(9, 10, 110) == pytest.approx(1.0)
    assert warmup_cosine_factor(10, 10, 110) == pytest.approx(1.0)
    assert warmup_cosine_factor(60, 10, 110, floor=0.0) == pytest.approx(0.5)
    assert warmup_cosine_factor(110, 10, 110, floor=0.02) == pytest.approx(0.02)
    assert warmup_cosine_factor(35, 10, 110, floor=0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
