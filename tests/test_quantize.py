"""int8 models: garmentkp quantize, --precision int8, and how close int8 stays to float."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.errors import InputError
from garmentcli.models.registry import int8_spec, load_model_files, model_sha256, resolve_model

pytest.importorskip("onnx")

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
FLATLAY = SAMPLES / "flatlay" / "image"


def test_int8_spec_names_the_variant_of_a_name_or_a_file() -> None:
    assert int8_spec("default") == "default-int8"
    assert int8_spec("default-int8") == "default-int8"
    assert int8_spec("models/m.onnx") == str(Path("models/m-int8.onnx"))
    assert int8_spec("models/m-int8.onnx") == str(Path("models/m-int8.onnx"))
    with pytest.raises(InputError, match="training checkpoint"):
        int8_spec("runs/a/best.pt")


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny float model and its int8 variant made by the command, calibrated on the sample flat-lays."""
    from models_tiny import export_tiny_model

    folder = tmp_path_factory.mktemp("int8")
    float_model = export_tiny_model(folder, "tiny")
    extra = folder / "extra.json"
    extra.write_bytes(orjson.dumps({"metrics": {"synth-val": {"keypoints_AP": 0.5}}}))
    result = CliRunner().invoke(
        app, ["quantize", str(FLATLAY), "--model", str(float_model), "--images", "6", "--card", str(extra)]
    )
    assert result.exit_code == 0, result.output
    return float_model, folder / "tiny-int8.onnx"


def test_quantize_writes_an_int8_model_whose_card_says_what_it_came_from(tiny_pair: tuple[Path, Path]) -> None:
    float_model, int8_model = tiny_pair
    card = orjson.loads(int8_model.with_suffix(".json").read_bytes())
    assert card["precision"] == "int8" and card["name"] == "tiny-int8"
    assert card["export"]["quantized_from"] == {
        "name": "tiny",
        "sha256": model_sha256(load_model_files(float_model)),
    }
    assert card["export"]["quantization"]["calibration_images"] == 6
    float_card = orjson.loads(float_model.with_suffix(".json").read_bytes())
    assert card["metrics"] == {"float32": float_card["metrics"], "synth-val": {"keypoints_AP": 0.5}}
    assert card["config"] == orjson.loads(float_model.with_suffix(".json").read_bytes())["config"]
    import onnx

    graph = onnx.load(str(int8_model))
    ops = {node.op_type for node in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert load_model_files(int8_model).card.precision == "int8"  # the card inside the graph too
    int8_model.with_suffix(".json").rename(int8_model.with_suffix(".bak"))
    try:
        assert load_model_files(int8_model).card.precision == "int8"
    finally:
        int8_model.with_suffix(".bak").rename(int8_model.with_suffix(".json"))


def test_int8_outputs_stay_within_tolerance_of_float(tiny_pair: tuple[Path, Path]) -> None:
    from garmentcli.io.images import read_image
    from garmentcli.runtime.backends import OnnxBackend
    from garmentcli.runtime.letterbox import letterbox, to_tensor

    float_model, int8_model = tiny_pair
    batch = to_tensor([letterbox(read_image(p), 64)[0] for p in sorted(FLATLAY.glob("*.jpg"))[:4]])
    want = OnnxBackend(load_model_files(float_model)).run(batch)
    got = OnnxBackend(load_model_files(int8_model)).run(batch)
    assert want.keys() == got.keys()
    for name in want:
        scale = max(1.0, float(np.abs(want[name]).max()))
        error = float(np.abs(want[name] - got[name]).max())
        assert error <= 0.1 * scale, (name, error, scale)  # 8 bits: a few per cent of the range
        assert error > 0.0, name  # it is not the float graph


def test_precision_int8_finds_the_variant_and_names_it_in_the_output(
    tiny_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    float_model, int8_model = tiny_pair
    assert resolve_model(float_model, "int8").onnx == int8_model
    out = tmp_path / "pred.json"
    result = CliRunner().invoke(
        app, ["detect", str(FLATLAY), "-o", str(out), "--model", str(float_model), "--precision", "int8"]
    )
    assert result.exit_code == 0, result.output
    run = orjson.loads(out.read_bytes())["garmentkp_run"]
    assert run["settings"]["model"] == "tiny-int8"
    assert run["settings"]["model_sha256"] == model_sha256(load_model_files(int8_model))


def _model_without_a_variant(folder: Path) -> Path:
    """A copy of the tiny model, with its card, alone in ``folder``: no ``alone-int8.onnx`` beside it."""
    from models_tiny import shared_tiny_model

    alone = folder / "alone.onnx"
    shutil.copy(shared_tiny_model(), alone)
    shutil.copy(shared_tiny_model().with_suffix(".json"), alone.with_suffix(".json"))
    return alone


def _detect_settings(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "auto.json"
    result = CliRunner().invoke(app, ["detect", str(FLATLAY / "000001.jpg"), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return orjson.loads(out.read_bytes())["garmentkp_run"]["settings"]


def test_precision_auto_runs_the_int8_variant_on_the_cpu_and_float_where_int8_is_not_faster(
    tiny_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    float_model, int8_model = tiny_pair
    assert _detect_settings(tmp_path)["model"] == "default-int8"  # the default: auto, and the bundled variant
    assert _detect_settings(tmp_path, "--model", str(float_model))["model"] == "tiny-int8"
    assert _detect_settings(tmp_path, "--model", str(int8_model))["model"] == "tiny-int8"
    assert _detect_settings(tmp_path, "--model", str(float_model), "--precision", "float32")["model"] == "tiny"
    pytest.importorskip("torch")
    assert _detect_settings(tmp_path, "--model", str(float_model), "--backend", "torch")["model"] == "tiny"


def test_precision_auto_keeps_a_model_without_an_int8_variant(tmp_path: Path) -> None:
    alone = _model_without_a_variant(tmp_path)
    assert _detect_settings(tmp_path, "--model", str(alone))["model"] == "alone"


def test_a_model_without_an_int8_variant_says_how_to_make_one(tmp_path: Path) -> None:
    alone = _model_without_a_variant(tmp_path)
    result = CliRunner().invoke(
        app, ["detect", str(FLATLAY), "-o", str(tmp_path / "p.json"), "--model", str(alone), "--precision", "int8"]
    )
    assert result.exit_code == 1
    assert "has no int8 variant" in result.output and "garmentkp quantize" in result.output
    assert not (tmp_path / "p.json").exists()


def test_the_torch_backend_refuses_an_int8_model(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    _, int8_model = tiny_pair
    result = CliRunner().invoke(
        app, ["detect", str(FLATLAY), "-o", str(tmp_path / "p.json"), "--model", str(int8_model), "--backend", "torch"]
    )
    assert result.exit_code == 1 and "onnxruntime only" in result.output


def test_quantize_refuses_to_overwrite_the_float_model(tiny_pair: tuple[Path, Path]) -> None:
    float_model, _ = tiny_pair
    result = CliRunner().invoke(app, ["quantize", str(FLATLAY), "--model", str(float_model), "-o", str(float_model)])
    assert result.exit_code == 1 and "overwrite the float model" in result.output


def test_the_bundled_int8_default_finds_what_the_float_default_finds() -> None:
    """Parity tolerances of the shipped int8 variant on the sample photos (measured: box IoU >= 0.94, landmarks
    within 0.7 % of the box diagonal, scores within 0.04)."""
    from garmentcli.io.sources import expand_sources
    from garmentcli.metrics.similarity import box_iou_pairs
    from garmentcli.runtime.predictor import Predictor

    int8 = resolve_model("default", "int8")
    assert int8.name == "default-int8" and int8.origin == "bundled" and int8.card.precision == "int8"
    assert int8.card.export["quantized_from"]["sha256"] == model_sha256(resolve_model("default"))
    sources = expand_sources([str(SAMPLES)])
    ids = list(range(len(sources)))
    checked = 0
    for want, got in zip(
        Predictor("default").predict_sources(sources, ids), Predictor(int8).predict_sources(sources, ids), strict=True
    ):
        for garment in (g for g in want.garments if g.score >= 0.5):
            same = [g for g in got.garments if g.category_id == garment.category_id]
            assert same, (want.file_name, garment.category_id)
            boxes = np.array([g.bbox for g in same], dtype=float)
            target = np.repeat(garment.bbox[None].astype(float), len(same), 0)
            ious = box_iou_pairs(boxes, target, np.zeros(len(same), bool))
            match = same[int(np.argmax(ious))]
            assert ious.max() >= 0.9 and abs(match.score - garment.score) <= 0.05, want.file_name
            sure = garment.landmarks[:, 2] >= 0.5
            if sure.any():
                error = np.linalg.norm(garment.landmarks[sure, :2] - match.landmarks[sure, :2], axis=1).mean()
                assert error <= 0.02 * np.hypot(*garment.bbox[2:]), want.file_name
            checked += 1
    assert checked >= 30


def test_precision_auto_runs_float_on_cuda() -> None:
    from garmentcli.models.registry import precision_spec

    assert precision_spec("default", "auto", "onnx", "cpu") == "default-int8"
    assert precision_spec("default", "auto", "onnx", "cuda") == "default"
    assert precision_spec("runs/a/best.pt", "auto", "onnx", "cpu") == "runs/a/best.pt"
    assert precision_spec("default", "float32", "onnx", "cpu") == "default"
