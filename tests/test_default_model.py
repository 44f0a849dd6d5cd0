"""The bundled default model: it ships with its card and finds the sample garments out of the box."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations
from garmentcli.io.images import read_image
from garmentcli.metrics.evaluate import evaluate
from garmentcli.models.registry import DEFAULT_MODEL, resolve_model
from garmentcli.runtime.predictor import Predictor
from garmentcli.schema.records import AnnotationSet, ImageRecord

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
    refined = card["metrics"]["synth-test-refined"]
    assert "--refine" in refined["measured_with"] and refined["keypoints"]["AP"] >= test["keypoints"]["AP"]


def test_detect_on_the_sample_images_finds_the_garments_with_their_categories(tmp_path):
    result = CliRunner().invoke(app, ["detect", str(SAMPLES / "image"), "-o", str(tmp_path / "pred.json")])
    assert result.exit_code == 0, result.output
    truth = read_annotations(SAMPLES / "coco.json")
    found = read_annotations(tmp_path / "pred.json")
    scores = evaluate(truth, found)
    # measured with the current decoding (landmarks from the heatmaps alone): keypoint AP 0.77, box AP 0.89
    assert scores["keypoints"]["AP"] > 0.65
    assert scores["bbox"]["AP"] > 0.8
    by_name = {record.file_name: record for record in found}
    hits = sum(
        any(g.category_id == t.category_id for g in by_name[record.file_name].garments if g.score >= 0.3)
        for record in truth
        for t in record.garments
    )
    assert hits >= 0.8 * sum(len(record.garments) for record in truth)


def test_refinement_recovers_the_landmarks_of_garments_small_in_the_frame():
    # each 512 px sample in the middle of a 1024 px table: the whole-photo pass sees garments at half
    # their usual size, the zoomed crops see them larger than the sample itself did
    side = 1024
    truth, plain, refined = [], [], []
    once, twice = Predictor(), Predictor(refine=True)
    for record in read_annotations(SAMPLES / "coco.json"):
        image = read_image(SAMPLES / "image" / record.file_name)
        height, width = image.shape[:2]
        x0, y0 = (side - width) // 2, (side - height) // 2
        table = np.empty((side, side, 3), np.uint8)
        table[:] = np.median(image.reshape(-1, 3), axis=0)
        table[y0 : y0 + height, x0 : x0 + width] = image
        moved = copy.deepcopy(record)
        moved.width = moved.height = side
        for garment in moved.garments:
            garment.bbox[:2] += (x0, y0)
            garment.landmarks[:, :2] += np.where(garment.landmarks[:, 2:] > 0, (x0, y0), 0)
        truth.append(moved)
        plain.append(ImageRecord(record.id, record.file_name, side, side, once.predict([table])[0]))
        refined.append(ImageRecord(record.id, record.file_name, side, side, twice.predict([table])[0]))
    before = evaluate(AnnotationSet(truth), AnnotationSet(plain))
    after = evaluate(AnnotationSet(truth), AnnotationSet(refined))
    # measured when refinement landed: keypoint AP 0.45 -> 0.57, box AP 0.63 -> 0.68
    assert after["keypoints"]["AP"] > before["keypoints"]["AP"] + 0.08
    assert after["bbox"]["AP"] > before["bbox"]["AP"]


def test_detect_refine_on_the_sample_images(tmp_path):
    out = tmp_path / "pred.json"
    result = CliRunner().invoke(app, ["detect", str(SAMPLES / "image"), "-o", str(out), "--refine"])
    assert result.exit_code == 0, result.output
    scores = evaluate(read_annotations(SAMPLES / "coco.json"), read_annotations(out))
    # measured when refinement landed: keypoint AP 0.78, box AP 0.91 (0.77 / 0.89 without)
    assert scores["keypoints"]["AP"] > 0.72 and scores["bbox"]["AP"] > 0.85
