"""``garmentkp bench`` and its library: every backend x batch size measured over every image."""

from __future__ import annotations

import cv2
import orjson
import pytest
from models_tiny import shared_tiny_model
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.runtime.bench import write_test_images
from garmentcli.runtime.timing import STAGES

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    return shared_tiny_model()


def test_generated_test_images_are_jpegs_of_the_asked_size(tmp_path):
    sources = write_test_images(tmp_path, 3, 96, seed=2)
    assert [s.name for s in sources] == ["000000.jpg", "000001.jpg", "000002.jpg"]
    assert cv2.imread(str(sources[0].path)).shape == (96, 96, 3)
    assert sources[0].path.read_bytes() != sources[1].path.read_bytes()


def test_bench_json_reports_each_backend_and_batch_size(tiny):
    args = ["bench", "--model", str(tiny), "--images", "6", "--size", "64", "--batch-size", "1", "--batch-size", "4"]
    result = runner.invoke(app, [*args, "--backend", "onnx", "--backend", "torch", "--json"])
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout)
    assert [(r["backend"], r["batch_size"]) for r in rows] == [("onnx", 1), ("onnx", 4), ("torch", 1), ("torch", 4)]
    for row in rows:
        assert row["images"] == 6
        assert set(row["stage_ms"]) == set(STAGES)
        assert row["images_per_s"] > 0


def test_bench_refuses_an_unknown_backend_before_it_starts(tiny):
    result = runner.invoke(
        app,
        [
            "bench",
            "--model",
            str(tiny),
            "--images",
            "2",
            "--size",
            "64",
            "--batch-size",
            "2",
            "--backend",
            "tflite",
            "--backend",
            "onnx",
            "--json",
        ],
    )
    assert result.exit_code == 1
    assert "Invalid value for '--backend'" in result.output and "tflite" in result.output
