"""A tiny CPU training run: the loss falls, checkpoints resume exactly, the exported ONNX agrees with torch."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models_tiny import TINY_CONFIG  # noqa: E402

from garmentcli.schema.layout import DF2  # noqa: E402
from garmentcli.schema.records import Garment, ImageRecord  # noqa: E402
from garmentcli.train.data import Sample  # noqa: E402
from garmentcli.train.loop import Trainer, TrainOptions, resume_trainer  # noqa: E402

TINY = dataclasses.replace(TINY_CONFIG, max_objects=4)


def drawn_samples(folder: Path, count: int) -> list[Sample]:
    """Flat-lay-like pictures: one filled garment polygon on a plain table, landmarks on its corners."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        category = DF2.category(7)  # shorts: 10 landmarks
        image = np.full((96, 128, 3), rng.integers(150, 230), np.uint8)
        x0, y0 = rng.uniform(8, 50), rng.uniform(6, 30)
        w, h = rng.uniform(40, 70), rng.uniform(40, 60)
        cv2.rectangle(image, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), rng.integers(0, 120, 3).tolist(), -1)
        t = np.linspace(0, 1, category.num_landmarks)
        landmarks = np.column_stack([x0 + w * t, y0 + h * (t**2), np.full(category.num_landmarks, 2.0)])
        path = folder / f"{i:03d}.png"
        cv2.imwrite(str(path), image)
        garment = Garment(category.id, [x0, y0, w, h], landmarks)
        samples.append(Sample(path, ImageRecord(i, path.name, 128, 96, [garment])))
    return samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    return drawn_samples(tmp_path_factory.mktemp("drawn"), 8)


def _options(epochs: int) -> TrainOptions:
    return TrainOptions(epochs=epochs, batch_size=2, lr=4e-3, warmup_steps=4, seed=3)


def test_loss_falls_and_run_folder_is_written(samples: list[Sample], tmp_path: Path) -> None:
    trainer = Trainer(tmp_path / "run", TINY, _options(8), samples, [])
    history = trainer.fit()
    assert trainer.step == 8 * 4
    assert history[-1]["loss"] < 0.85 * history[0]["loss"]
    assert history[-1]["loss_center_heatmap"] < history[0]["loss_center_heatmap"]
    for name in ("last.pt", "best.pt", "log.csv", "curves.png"):
        assert (tmp_path / "run" / name).is_file()
    rows = list(csv.DictReader((tmp_path / "run" / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    assert float(rows[-1]["loss"]) == pytest.approx(history[-1]["loss"])
    plot = cv2.imread(str(tmp_path / "run" / "curves.png"))
    assert plot is not None and plot.shape[0] > 100


def test_resumed_run_equals_uninterrupted_run(samples: list[Sample], tmp_path: Path) -> None:
    straight = Trainer(tmp_path / "straight", TINY, _options(3), samples, [])
    straight.fit()
    interrupted = Trainer(tmp_path / "split", TINY, _options(3), samples, [])
    interrupted.fit(stop_after=2)
    resumed = resume_trainer(tmp_path / "split" / "last.pt", tmp_path / "split", samples, [])
    assert (resumed.epoch, resumed.step) == (2, 8)
    resumed.fit()
    expected, got = straight.network.state_dict(), resumed.network.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    assert resumed.optimizer.state_dict()["state"][0]["step"] == straight.optimizer.state_dict()["state"][0]["step"]


def test_exported_onnx_agrees_with_torch(samples: list[Sample], tmp_path: Path) -> None:
    import onnxruntime as ort

    from garmentcli.models.card import ModelCard
    from garmentcli.models.checkpoint import network_from_checkpoint
    from garmentcli.models.export import export_onnx
    from garmentcli.models.network import HEAD_NAMES, InferenceNetwork

    Trainer(tmp_path / "run", TINY, _options(2), samples, []).fit()
    network, config, _ = network_from_checkpoint(tmp_path / "run" / "last.pt")
    export_onnx(network, ModelCard("tiny", config), tmp_path / "tiny.onnx")
    from garmentcli.train.data import GarmentDataset

    canvas = GarmentDataset(samples, None, config.input_size, augment=None).prepare(0)[0]
    batch = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    produced = session.run(list(HEAD_NAMES), {"images": batch})
    with torch.no_grad():
        reference = InferenceNetwork(network)(torch.from_numpy(batch))
    for name, a, b in zip(HEAD_NAMES, produced, reference, strict=True):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-3, rtol=1e-3, err_msg=name)
