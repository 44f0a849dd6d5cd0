"""The bundled default model: it ships with its card and finds the sample garments out of the box."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations
from garmentcli.metrics.evaluate import evaluate
from garmentcli.models.registry import DEFAULT_MODEL, resolve_model

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images" / "flatlay"


def test_the_card_records_data_command_size_and_test_metrics():
    files = resolve_model(DEFAULT_MODEL)
    assert files.origin == "bundled" and files.onnx is not None
    card = json.loads(files.onnx.with_suffix(".json").read_text())
    assert card["parameters"] == 3_270_998 and card["input_size"] == 256
    assert "garmentkp train" in card["training"]["command"]
    assert set(card["training"]["data"]) == {"train", "validation", "test"}
    test = card["metrics"]["synth-test"]
    assert test["images"] == 300 and len(test["per_category"]) == 13
    assert test["keypoints"]["AP"] >= 0.6 and test["bbox"]["AP"] >= 0.8  # the goals of the default model


def test_detect_on_the_sample_images_finds_the_garments_with_their_categories(tmp_path):
    result = CliRunner().invoke(app, ["detect", str(SAMPLES / "image"), "-o", str(tmp_path / "pred.json")])
    assert result.exit_code == 0, result.output
    truth = read_annotations(SAMPLES / "coco.json")
    found = read_annotations(tmp_path / "pred.json")
    scores = evaluate(truth, found)
    # measured when the model was bundled: keypoint AP 0.74, box AP 0.88 on these 16 images
    assert scores["keypoints"]["AP"] > 0.65
    assert scores["bbox"]["AP"] > 0.8
    by_name = {record.file_name: record for record in found}
    hits = sum(
        any(g.category_id == t.category_id for g in by_name[record.file_name].garments if g.score >= 0.3)
        for record in truth
        for t in record.garments
    )
    assert hits >= 0.8 * sum(len(record.garments) for record in truth)
