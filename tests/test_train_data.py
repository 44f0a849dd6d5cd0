"""Training data: DATA arguments read into samples (real samples too), dataset items, validation mapping."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from garmentcli.errors import InputError  # noqa: E402
from garmentcli.io.formats import write_annotations  # noqa: E402
from garmentcli.models.codec import TargetCodec  # noqa: E402
from garmentcli.models.config import ModelConfig  # noqa: E402
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord  # noqa: E402
from garmentcli.train.augment import AugmentConfig  # noqa: E402
from garmentcli.train.data import GarmentDataset, load_samples  # noqa: E402


def test_real_deepfashion2_samples_become_network_inputs(real_data: Path) -> None:
    errors: list[str] = []
    samples = load_samples([str(real_data / "deepfashion2" / "deepfashion2_coco.json")], errors.append)
    assert errors == []
    assert [s.path.name for s in samples] == ["000264.jpg", "000265.jpg"]
    assert all(len(s.record.garments) == 1 and s.record.garments[0].category_id == 11 for s in samples)
    dataset = GarmentDataset(samples, TargetCodec(ModelConfig()), 256, AugmentConfig(), seed=1)
    image, targets = dataset[0]
    assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 256, 256)
    assert targets["object_mask"].sum() == 1
    assert tuple(targets["center_heatmap"].shape) == (13, 64, 64)
    assert targets["center_heatmap"][10].max() == 1.0  # the long-sleeved dress peak, in its own channel
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0][0], image)  # another epoch, another augmentation
    dataset.set_epoch(0)
    assert torch.equal(dataset[0][0], image)  # ... and the same one again for the same epoch


def test_fld_garments_are_reported_not_trained(real_data: Path) -> None:
    errors: list[str] = []
    with pytest.raises(InputError, match="no training images"):
        load_samples([str(real_data / "fld" / "fld_coco.json")], errors.append)
    assert len(errors) == 1 and "2 images skipped" in errors[0] and "FLD" in errors[0]


def test_coco_file_with_explicit_image_folder_and_missing_image(tmp_path: Path) -> None:
    images = tmp_path / "pictures"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((40, 60, 3), np.uint8))
    garment = Garment(9, [5.0, 5.0, 30.0, 20.0], np.zeros((8, 3)))
    records = [ImageRecord(1, "a.png", 60, 40, [garment]), ImageRecord(2, "gone.png", 60, 40, [])]
    write_annotations(AnnotationSet(records), tmp_path / "anno" / "gt.json")
    errors: list[str] = []
    samples = load_samples([f"{tmp_path / 'anno' / 'gt.json'}@{images}"], errors.append)
    assert [s.path for s in samples] == [images / "a.png"]
    assert len(errors) == 1 and "gone.png" in errors[0]
    with pytest.raises(InputError, match="image folder not found"):
        load_samples([f"{tmp_path / 'anno' / 'gt.json'}@{tmp_path / 'nowhere'}"], errors.append)
    shutil.copy(images / "a.png", tmp_path / "anno" / "a.png")  # beside the JSON is found without '@'
    assert [s.path.name for s in load_samples([str(tmp_path / "anno" / "gt.json")], errors.append)] == ["a.png"]


def _perfect_outputs(targets: dict[str, np.ndarray], side: int) -> dict[str, np.ndarray]:
    """Dense head outputs that say exactly what the codec's targets say (heatmaps as logits)."""
    groups = targets["landmark_heatmap"].shape[0]
    dense = {
        "center_offset": np.zeros((2, side * side)),
        "box_size": np.zeros((2, side * side)),
        "landmark_regression": np.zeros((2 * groups, side * side)),
        "landmark_offset": np.zeros((groups, 2, side * side)),
    }
    for m in np.flatnonzero(targets["object_mask"]):
        cell = targets["indices"][m]
        dense["center_offset"][:, cell] = targets["center_offset"][m]
        dense["box_size"][:, cell] = targets["box_size"][m]
        dense["landmark_regression"][:, cell] = targets["landmark_regression"][m].reshape(-1)
        for g in np.flatnonzero(targets["landmark_mask"][m]):
            dense["landmark_offset"][g, :, targets["landmark_indices"][m, g]] = targets["landmark_offset"][m, g]
    out = {name: value.reshape(-1, side, side) for name, value in dense.items()}
    for name in ("center_heatmap", "landmark_heatmap"):
        p = np.clip(targets[name], 1e-4, 1 - 1e-4)
        out[name] = np.log(p / (1 - p))
    return out


def test_validation_of_a_perfect_network_scores_ap_1(tmp_path: Path) -> None:
    from test_train_loop import drawn_samples

    from garmentcli.runtime.letterbox import letterbox
    from garmentcli.schema.layout import DF2
    from garmentcli.train.validate import validate

    samples = drawn_samples(tmp_path, 3)
    for sample in samples:  # two garments per image, so ids, categories and order all matter
        first = sample.record.garments[0]
        k = DF2.category(9).num_landmarks
        second = np.column_stack([np.linspace(66, 116, k), np.linspace(6, 86, k), np.full(k, 2.0)])  # spans its box
        sample.record.garments = [first, Garment(9, [66.0, 6.0, 50.0, 80.0], second)]
    config = ModelConfig(input_size=128)
    codec = TargetCodec(config)
    outputs = []
    for sample in samples:
        _, box = letterbox(cv2.imread(str(sample.path)), 128)
        moved = [
            Garment(
                g.category_id,
                [*(g.bbox[:2] * box.scale + (box.pad_x, box.pad_y)), *(g.bbox[2:] * box.scale)],
                np.column_stack([g.landmarks[:, :2] * box.scale + (box.pad_x, box.pad_y), g.landmarks[:, 2]]),
            )
            for g in sample.record.garments
        ]
        outputs.append(_perfect_outputs(codec.encode(moved, (128, 128)), 32))

    class Oracle(torch.nn.Module):
        config = ModelConfig(input_size=128)  # what every network carries: the deployed wrapper reads it

        def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
            assert images.shape == (3, 3, 128, 128)
            return {name: torch.from_numpy(np.stack([o[name] for o in outputs])).float() for name in outputs[0]}

    scores = validate(Oracle(), config, samples, torch.device("cpu"))
    assert scores["val_box_AP"] == pytest.approx(1.0, abs=0.01)
    assert scores["val_kp_AP"] == pytest.approx(1.0, abs=0.01)
