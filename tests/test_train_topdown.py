"""The top-down landmark model's data and training: crops cut and mapped back exactly, mirrored crops rename the
landmarks, the landmarker gives back the truth from perfect logits, a tiny model trains, improves and resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from garmentcli.models.config import TopDownConfig
from garmentcli.runtime.crops import GarmentCrop
from garmentcli.runtime.topdown import TopDownLandmarker, codec_of
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment

torch = pytest.importorskip("torch")

from test_train_loop import drawn_samples  # noqa: E402

from garmentcli.train.loop import Trainer, TrainOptions, resume_trainer  # noqa: E402
from garmentcli.train.topdown_data import CropDataset  # noqa: E402

TINY = TopDownConfig(input_width=64, input_height=96, channels=32, hidden=64)


def test_a_crop_centres_the_box_keeps_its_aspect_and_maps_back():
    crop = GarmentCrop.around(np.array([40.0, 30.0, 60.0, 20.0]), 192, 256)
    np.testing.assert_allclose(crop.to_crop([[70.0, 40.0]]), [[96.0, 128.0]])  # box centre -> crop centre
    corners = crop.to_crop([[40.0, 30.0], [100.0, 50.0]])
    assert corners[1, 0] - corners[0, 0] == pytest.approx(192 / 1.25)  # the wide box fills the width, padded
    points = np.random.default_rng(0).uniform(0, 300, (20, 2))
    turned = GarmentCrop.around(
        np.array([40.0, 30.0, 60.0, 80.0]), 192, 256, scale=0.8, rotation_deg=20, shift=(0.1, -0.05)
    )
    np.testing.assert_allclose(turned.to_image(turned.to_crop(points)), points, atol=1e-9)
    mirrored = GarmentCrop.around(np.array([40.0, 30.0, 60.0, 80.0]), 192, 256, mirror=True)
    left, right = mirrored.to_crop([[40.0, 70.0], [100.0, 70.0]])
    assert left[0] > right[0] and left[1] == pytest.approx(right[1])


def test_the_crop_shows_the_pixel_where_to_crop_puts_it():
    image = np.full((120, 160, 3), 255, np.uint8)
    image[52:55, 101:104] = 0  # a dark dot centred on (102, 53)
    crop = GarmentCrop.around(np.array([60.0, 20.0, 80.0, 70.0]), 64, 96, rotation_deg=15)
    pixels = crop.cut(image).min(axis=2).astype(float)
    expected = crop.to_crop([[102.0, 53.0]])[0]
    ys, xs = np.nonzero(pixels < 100)  # darker than the grey outside the image
    weights = 100 - pixels[ys, xs]
    np.testing.assert_allclose([np.average(xs, weights=weights), np.average(ys, weights=weights)], expected, atol=0.35)


def test_a_mirrored_crop_renames_left_and_right(tmp_path: Path):
    samples = drawn_samples(tmp_path, 1)
    dataset = CropDataset(samples, TINY, augment=None)
    _, plain = dataset.prepare(0)
    garment = samples[0].record.garments[0]
    crop = GarmentCrop.around(garment.bbox, 64, 96, mirror=True)
    mirrored = np.column_stack([crop.to_crop(garment.landmarks[:, :2]), garment.landmarks[:, 2]])
    renamed = mirrored[garment.category.flip_index]
    names = garment.category.landmarks
    left = next(i for i, n in enumerate(names) if n.endswith("_l"))
    right = garment.category.flip_index[left]
    assert renamed[left, 0] == pytest.approx(mirrored[right, 0]) and renamed[left, 0] != pytest.approx(plain[left, 0])
    image, targets = dataset[0]
    assert tuple(image.shape) == (3, 96, 64)
    groups = DF2.group_of[garment.category.slice]
    assert targets["weight"].sum() == garment.num_labelled and set(np.flatnonzero(targets["weight"])) <= set(groups)


def test_cspn_items_carry_heatmaps_of_the_crops_landmarks_in_their_groups(tmp_path: Path):
    from garmentcli.models.config import CspnConfig
    from garmentcli.train.topdown_data import HeatmapCropDataset

    config = CspnConfig(input_width=64, input_height=96, channels=16, stages=2)
    samples = drawn_samples(tmp_path, 1)
    dataset = HeatmapCropDataset(samples, config, augment=None)
    image, targets = dataset[0]
    _, landmarks = dataset.prepare(0)
    garment = samples[0].record.garments[0]
    groups = DF2.group_of[garment.category.slice]
    assert tuple(image.shape) == (3, 96, 64) and set(targets) == {"heatmaps", "weight"}
    heatmaps, weight = targets["heatmaps"].numpy(), targets["weight"].numpy()
    assert heatmaps.shape == (77, 24, 16) and weight.sum() == garment.num_labelled
    assert set(np.flatnonzero(weight)) == set(groups) and not np.delete(heatmaps, groups, axis=0).any()
    decoded, _ = codec_of(config).decode(heatmaps[groups])
    np.testing.assert_allclose(decoded, landmarks[:, :2], atol=1e-3)


def test_perfect_logits_give_back_the_true_landmarks_in_image_pixels():
    category = DF2.category(1)
    rng = np.random.default_rng(2)
    box = np.array([50.0, 40.0, 120.0, 150.0])
    truth = np.column_stack(
        [rng.uniform(55, 165, category.num_landmarks), rng.uniform(45, 185, category.num_landmarks)]
    )
    garment = Garment(category.id, box, np.column_stack([truth, np.full(category.num_landmarks, 2.0)]), score=0.9)
    codec = codec_of(TINY)
    groups = DF2.group_of[category.slice]

    def perfect(crops: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crop = GarmentCrop.around(box, TINY.input_width, TINY.input_height)
        target_x, target_y, _ = codec.encode(crop.to_crop(truth), np.ones(len(truth), bool))
        logits_x = np.full((len(crops), TINY.num_groups, codec.bins[0]), -30.0, np.float32)
        logits_y = np.full((len(crops), TINY.num_groups, codec.bins[1]), -30.0, np.float32)
        logits_x[:, groups], logits_y[:, groups] = np.log(target_x + 1e-30), np.log(target_y + 1e-30)
        return logits_x, logits_y

    (found,) = TopDownLandmarker(perfect, TINY).landmarks([np.zeros((240, 200, 3), np.uint8)], [[garment]])
    (result,) = found
    np.testing.assert_allclose(result.landmarks[:, :2], truth, atol=1e-3)
    assert result.landmarks[:, 2].min() > 0.99 and result.score == 0.9 and result.bbox.tolist() == box.tolist()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory):
    return drawn_samples(tmp_path_factory.mktemp("drawn_topdown"), 8)


def _options(epochs: int) -> TrainOptions:
    """The ImageNet trunk frozen whole (quick on a CPU): the fusion, attention and SimCC head learn."""
    return TrainOptions(epochs=epochs, batch_size=2, lr=5e-3, warmup_steps=2, seed=5, freeze_stages=5)


def test_a_tiny_top_down_model_trains_validates_and_resumes(samples, tmp_path: Path):
    trainer = Trainer(tmp_path / "run", TINY, _options(8), samples, samples[:4])
    assert trainer.steps_per_epoch == 4  # one crop per garment
    history = trainer.fit(stop_after=7)
    assert history[-1]["loss"] < 0.9 * history[0]["loss"]
    assert history[-1]["val_PCK"] > history[0]["val_PCK"] + 0.25  # 0.075 -> 0.475 here
    assert {"val_kp_AP", "val_kp_AP50", "val_kp_AP75"} <= set(history[-1])
    resumed = resume_trainer(tmp_path / "run" / "last.pt", tmp_path / "run", samples, samples[:4])
    assert isinstance(resumed.config, TopDownConfig) and resumed.config == TINY and resumed.epoch == 7
    assert len(resumed.fit()) == 8


def test_too_few_annotated_garments_for_a_batch_is_one_line(samples, tmp_path: Path):
    from garmentcli.errors import InputError

    with pytest.raises(InputError, match="1 training annotated garments are fewer than one batch of 2"):
        Trainer(tmp_path / "run", TINY, _options(1), samples[:1], [])


def test_part_crops_stay_inside_the_garment():
    from garmentcli.train.topdown_data import _part_box

    category = DF2.category(8)
    y = np.linspace(10, 200, category.num_landmarks)
    garment = Garment(category.id, [20, 10, 100, 190], np.column_stack([np.full_like(y, 60), y, np.full_like(y, 2)]))
    box = _part_box(garment, np.random.default_rng(0))
    assert box[1] >= 10 and box[1] + box[3] <= 200 + 1e-9 and box[3] < 0.6 * 190
