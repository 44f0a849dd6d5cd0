"""Weakly-labelled photos (``PHOTO_DIR@MAPPING.json``): the mapping, the samples, the partial-label loss, learning."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models_tiny import TINY_CONFIG  # noqa: E402

from garmentcli.errors import InputError  # noqa: E402
from garmentcli.io.folder_labels import read_folder_mapping, read_labelled_photos  # noqa: E402
from garmentcli.models.codec import TargetCodec  # noqa: E402
from garmentcli.models.network import build_network  # noqa: E402
from garmentcli.train.augment import AugmentConfig  # noqa: E402
from garmentcli.train.data import GarmentDataset, load_samples, weak_targets  # noqa: E402
from garmentcli.train.losses import LossWeights, detection_losses, weak_category_loss  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"red": (0, 0, 230), "blue": (230, 0, 0), "empty": (128, 128, 128)}
"""Three photo classes a tiny network can tell apart: a red or blue garment-sized patch, or none."""


def write_mapping(path: Path, folders: dict) -> Path:
    path.write_text(json.dumps({"format": "garmentkp-folder-labels", "folders": folders}))
    return path


def photo_folder(root: Path, per_class: int = 3, size: int = 64) -> Path:
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = np.full((size, size, 3), 200, np.uint8)
            if name != "empty":
                x, y = rng.integers(8, 24, 2)
                image[y : y + 30, x : x + 30] = colour
            cv2.imwrite(str(root / name / f"{i}.png"), image)
    return root


def test_the_mapping_accepts_names_and_ids_and_names_the_bad_entry(tmp_path: Path) -> None:
    good = write_mapping(tmp_path / "m.json", {"tee": ["short_sleeved_shirt"], "shirt": [1, 2], "hat": []})
    assert read_folder_mapping(good) == {"tee": {1}, "shirt": {1, 2}, "hat": frozenset()}
    with pytest.raises(InputError, match=r"m2.json: folder 'tee': unknown garment category 'tshirt'"):
        read_folder_mapping(write_mapping(tmp_path / "m2.json", {"tee": ["tshirt"]}))
    with pytest.raises(InputError, match="folder 'tee': expected a list"):
        read_folder_mapping(write_mapping(tmp_path / "m3.json", {"tee": 1}))
    (tmp_path / "m4.json").write_text("{}")
    with pytest.raises(InputError, match="m4.json: not a folder-label mapping"):
        read_folder_mapping(tmp_path / "m4.json")


def test_the_repo_mapping_of_clothing_small_matches_its_readme() -> None:
    mapping = read_folder_mapping(REPO / "data" / "clothing_small.folders.json")
    assert mapping["t-shirt"] == {1} and mapping["shirt"] == {1, 2} and mapping["outwear"] == {3, 4}
    assert mapping["dress"] == {10, 11, 12, 13} and mapping["hat"] == mapping["shoes"] == frozenset()
    assert len(mapping) == 10


def test_photos_become_weak_samples_that_collate_with_annotated_ones(tmp_path: Path) -> None:
    root = photo_folder(tmp_path / "photos")
    mapping = write_mapping(tmp_path / "m.json", {"red": [8], "blue": [9], "empty": []})
    photos = read_labelled_photos(root, mapping)
    assert [p.name for p in photos][:2] == ["blue/0.png", "blue/1.png"] and len(photos) == 9
    samples = load_samples([f"{root}@{mapping}"], pytest.fail)
    assert all(s.weak and s.record.garments == [] for s in samples)
    assert {s.record.file_name.split("/")[0]: s.allowed for s in samples} == {"red": {8}, "blue": {9}, "empty": set()}
    dataset = GarmentDataset(samples, TargetCodec(TINY_CONFIG), 64, AugmentConfig(), seed=0)
    image, targets = dataset[0]
    assert tuple(image.shape) == (3, 64, 64)
    assert float(targets["weak"]) == 1.0 and targets["allowed"].tolist() == [0.0] * 8 + [1.0] + [0.0] * 4
    assert targets["object_mask"].sum() == 0
    assert weak_targets(None, 13)["weak"] == 0.0  # an annotated image: same keys, so batches mix
    batch = torch.utils.data.default_collate([dataset[0], dataset[3], dataset[8]])
    assert tuple(batch[1]["allowed"].shape) == (3, 13)
    twice = load_samples([f"{root}@{mapping}", f"{root}@{mapping}"], pytest.fail)  # a source named twice is drawn twice
    assert [s.path for s in twice] == [s.path for s in samples] * 2
    with pytest.raises(InputError, match="folder 'green' not found"):
        load_samples([f"{root}@{write_mapping(tmp_path / 'g.json', {'green': [1]})}"], pytest.fail)


def _heads(batch: int, side: int = 4) -> dict:
    network_channels = {"center_heatmap": 13, "center_offset": 2, "box_size": 2}
    groups = TINY_CONFIG.num_groups
    network_channels |= {"landmark_regression": 2 * groups, "landmark_heatmap": groups, "landmark_offset": 2 * groups}
    return {name: torch.full((batch, c, side, side), -6.0) for name, c in network_channels.items()}


def _weak_batch(allowed: list[set[int]]) -> dict:
    codec = TargetCodec(TINY_CONFIG)
    items = [{**codec.encode([], (16, 16)), **weak_targets(frozenset(a), 13)} for a in allowed]
    return {k: torch.from_numpy(np.stack([item[k] for item in items])) for k in items[0]}


def test_the_partial_label_loss_rewards_an_allowed_peak_and_punishes_a_forbidden_one() -> None:
    targets = _weak_batch([{1, 2}])
    quiet = detection_losses(_heads(1), targets, LossWeights())
    allowed_peak = _heads(1)
    allowed_peak["center_heatmap"][0, 1, 2, 2] = 6.0  # long-sleeved shirt: allowed
    forbidden_peak = _heads(1)
    forbidden_peak["center_heatmap"][0, 7, 2, 2] = 6.0  # trousers: not allowed
    with_allowed = detection_losses(allowed_peak, targets, LossWeights())
    with_forbidden = detection_losses(forbidden_peak, targets, LossWeights())
    assert float(with_allowed["loss_weak_category"]) < 0.01 < float(quiet["loss_weak_category"])
    assert float(with_allowed["loss_center_heatmap"]) == pytest.approx(float(quiet["loss_center_heatmap"]))
    assert float(with_forbidden["loss_center_heatmap"]) > float(quiet["loss_center_heatmap"]) + 1.0
    assert float(with_forbidden["loss_weak_category"]) == pytest.approx(float(quiet["loss_weak_category"]))
    for name in ("center_offset", "box_size", "landmark_regression", "landmark_offset"):
        assert float(with_allowed[f"loss_{name}"]) == 0.0


def test_a_hard_negative_punishes_every_peak_and_has_no_category_term() -> None:
    targets = _weak_batch([set()])
    heads = _heads(1)
    base = detection_losses(heads, targets, LossWeights())
    heads["center_heatmap"][0, 4, 1, 1] = 6.0
    heads["landmark_heatmap"][0, 10, 1, 1] = 6.0
    peaked = detection_losses(heads, targets, LossWeights())
    assert float(peaked["loss_center_heatmap"]) > float(base["loss_center_heatmap"]) + 1.0
    assert float(peaked["loss_landmark_heatmap"]) > float(base["loss_landmark_heatmap"]) + 1.0
    assert float(weak_category_loss(heads["center_heatmap"], targets["allowed"], targets["weak"])) == 0.0


def test_landmark_heatmaps_of_a_photo_that_shows_a_garment_are_left_alone() -> None:
    targets = _weak_batch([{9}])
    heads = _heads(1)
    before = float(detection_losses(heads, targets, LossWeights())["loss_landmark_heatmap"])
    heads["landmark_heatmap"][0, 3, 1, 1] = 6.0
    assert float(detection_losses(heads, targets, LossWeights())["loss_landmark_heatmap"]) == before == 0.0


def test_a_tiny_network_learns_the_classes_from_folder_labels_alone(tmp_path: Path) -> None:
    torch.manual_seed(0)
    root = photo_folder(tmp_path / "photos", per_class=4)
    mapping = write_mapping(tmp_path / "m.json", {"red": [8], "blue": [9], "empty": []})
    samples = load_samples([f"{root}@{mapping}"], pytest.fail)
    dataset = GarmentDataset(samples, TargetCodec(TINY_CONFIG), 64, None)
    images, targets = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    network = build_network(TINY_CONFIG)
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)

    def peaks() -> torch.Tensor:
        network.eval()
        with torch.no_grad():
            scores = torch.sigmoid(network(images.float())["center_heatmap"]).flatten(2).amax(2)
        network.train()
        return scores

    before = peaks()
    for _ in range(60):
        loss = detection_losses(network(images.float()), targets, LossWeights())["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = peaks()
    names = [s.record.file_name.split("/")[0] for s in samples]
    red = [i for i, n in enumerate(names) if n == "red"]
    blue = [i for i, n in enumerate(names) if n == "blue"]
    empty = [i for i, n in enumerate(names) if n == "empty"]
    assert torch.all(after[red, 7] > after[red, 8]) and torch.all(after[blue, 8] > after[blue, 7])
    assert float(after[empty].max()) < 0.2 < float(after[red, 7].min())
    assert float(after[red, 7].mean()) > float(before[red, 7].mean()) + 0.3


def test_the_teacher_adopts_the_allowed_detection_of_the_garment_it_is_sure_of() -> None:
    from garmentcli.schema.records import Garment, ImageRecord
    from garmentcli.train.pseudo import adopt_teacher

    def garment(category: int, bbox: list[float], score: float, landmark_scores: np.ndarray) -> Garment:
        points = np.column_stack([np.full((len(landmark_scores), 2), 7.0), landmark_scores])
        return Garment(category, bbox, points, score=score)

    trousers = garment(8, [1, 1, 30, 30], 0.9, np.full(14, 0.9))  # the teacher's sure garment, a wrong category
    skirt = garment(9, [2, 2, 28, 28], 0.3, np.linspace(0, 1, 8))  # the same garment (IoU 0.87), allowed
    far_skirt = garment(9, [40, 40, 20, 20], 0.45, np.full(8, 0.9))  # allowed, more confident, elsewhere
    record = ImageRecord(1, "a.jpg", 64, 64, [trousers, skirt, far_skirt])
    adopted = adopt_teacher(record, frozenset({9}), min_score=0.5, min_landmark_score=0.3)
    assert adopted is not None and adopted.category_id == 9 and adopted.score is None
    np.testing.assert_array_equal(adopted.bbox, skirt.bbox)
    sure = skirt.landmarks[:, 2] >= 0.3
    assert adopted.landmarks[sure, 2].tolist() == [2.0] * int(sure.sum())
    assert adopted.landmarks[~sure].tolist() == [[0.0, 0.0, 0.0]] * int((~sure).sum())
    assert adopt_teacher(record, frozenset({8, 9}), 0.5, 0.3).category_id == 8  # the more confident one
    assert adopt_teacher(record, frozenset({9}), 0.95, 0.3) is None  # not sure of any garment
    assert adopt_teacher(record, frozenset({1}), 0.0, 0.3) is None  # no allowed detection
    alone = ImageRecord(2, "b.jpg", 64, 64, [trousers, far_skirt])
    assert adopt_teacher(alone, frozenset({9}), 0.5, 0.3) is None  # the allowed one is another place


def test_train_with_a_teacher_gives_photos_targets_and_leaves_negatives_weak(tmp_path: Path) -> None:
    from models_tiny import shared_tiny_model
    from typer.testing import CliRunner

    from garmentcli.cli.app import app
    from garmentcli.runtime.predictor import Predictor
    from garmentcli.train.pseudo import pseudo_label

    root = photo_folder(tmp_path / "photos", per_class=6)
    every = list(range(1, 14))
    mapping = write_mapping(tmp_path / "m.json", {"red": every, "blue": every, "empty": []})
    samples = load_samples([f"{root}@{mapping}"], pytest.fail)
    teacher = Predictor(shared_tiny_model())
    labelled, adopted = pseudo_label(samples, teacher, min_score=0.0)
    assert adopted == 12
    assert [s.weak for s in labelled] == [False] * 6 + [True] * 6 + [False] * 6  # blue, empty, red in name order
    adopted_samples = [s for s in labelled if not s.weak]
    assert all(len(s.record.garments) == 1 and s.record.garments[0].score is None for s in adopted_samples)
    assert pseudo_label(samples, teacher, min_score=1.01)[1] == 0
    result = CliRunner().invoke(
        app,
        [
            "train",
            f"{root}@{mapping}",
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--batch-size",
            "6",
            "--input-size",
            "64",
            "--arch",
            "backbone=inverted-residual",
            "--arch",
            "width=8",
            "--teacher",
            str(shared_tiny_model()),
            "--teacher-score",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "12 weakly-labelled photos now have box and landmark targets, 0 not" in result.output
    assert (tmp_path / "run" / "last.pt").is_file()
