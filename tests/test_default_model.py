"""The bundled default model: it ships with its card and finds the sample garments out of the box."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations
from garmentcli.io.images import read_image
from garmentcli.metrics.evaluate import evaluate
from garmentcli.models.registry import DEFAULT_MODEL, resolve_model
from garmentcli.runtime.predictor import Predictor
from garmentcli.schema.records import AnnotationSet, ImageRecord

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images" / "flatlay"


def test_the_card_records_data_command_and_size():
    files = resolve_model(DEFAULT_MODEL)
    assert files.origin == "bundled" and files.onnx is not None
    card = json.loads(files.onnx.with_suffix(".json").read_text())
    assert card["input_size"] == files.card.config.input_size == 256
    assert "garmentkp train" in card["training"]["command"]
    assert set(card["training"]["data"]) == {"train", "validation", "test"}
    test = card["metrics"]["synth-test"]
    assert test["images"] == 300 and len(test["per_category"]) == 13
    assert "--seed 3000" in card["training"]["data"]["test"]
    refined = card["metrics"]["synth-test-refined"]
    assert "--refine" in refined["measured_with"]


def test_the_cards_parameter_count_is_the_networks():
    pytest.importorskip("torch")
    from garmentcli.models.network import build_network, count_parameters

    card = resolve_model(DEFAULT_MODEL).card
    assert card.parameters == count_parameters(build_network(card.config))


# The first images of the card's test set (``synth test --count 300 --seed 3000``, the flat-lay generator the
# model was made with), detected and scored as the card's ``measured_with`` says, with the float model and with
# what a plain ``detect`` runs on the CPU (``--precision auto``: its int8 variant). Recorded with the bundled
# models (float when this test was written: the whole 300-image set gave exactly the card's 0.7235 / 0.8574;
# int8 2026-12-02).
TEST_PREFIX = 40
PREFIX_FIGURES = {"float32": ("default", 0.7941, 0.9309), "auto": ("default-int8", 0.7849, 0.9214)}


@pytest.mark.parametrize("precision", sorted(PREFIX_FIGURES))
def test_the_cards_test_figures_recomputed_on_the_first_test_images(tmp_path, precision):
    model, keypoint_ap, box_ap = PREFIX_FIGURES[precision]
    test = tmp_path / "test"
    made = CliRunner().invoke(
        app, ["synth", str(test), "-n", str(TEST_PREFIX), "--seed", "3000", "--style", "flatlay-v1", "--workers", "1"]
    )
    assert made.exit_code == 0, made.output
    pred = tmp_path / "pred.json"
    args = ["detect", str(test / "image"), "-o", str(pred), "--score-thr", "0.05", "--precision", precision]
    found = CliRunner().invoke(app, args)
    assert found.exit_code == 0, found.output
    assert json.loads(pred.read_text())["garmentkp_run"]["settings"]["model"] == model
    scores = evaluate(read_annotations(test / "coco.json"), read_annotations(pred), metrics=("ap", "box"))
    assert scores["keypoints"]["AP"] == pytest.approx(keypoint_ap, abs=0.01)
    assert scores["bbox"]["AP"] == pytest.approx(box_ap, abs=0.01)
    card = resolve_model(model).card.metrics["synth-test"]  # a sample of the same test set
    assert scores["keypoints"]["AP"] == pytest.approx(card["keypoints"]["AP"], abs=0.1)
    assert scores["bbox"]["AP"] == pytest.approx(card["bbox"]["AP"], abs=0.1)


def test_detect_on_the_sample_images_finds_the_garments_with_their_categories(tmp_path):
    result = CliRunner().invoke(app, ["detect", str(SAMPLES / "image"), "-o", str(tmp_path / "pred.json")])
    assert result.exit_code == 0, result.output
    truth = read_annotations(SAMPLES / "coco.json")
    found = read_annotations(tmp_path / "pred.json")
    scores = evaluate(truth, found)
    # recorded with the current decoding (landmarks from the heatmaps alone) and what a plain detect runs on the
    # CPU (default-int8; the float default gives 0.7717 / 0.8888), as the README states them
    assert scores["keypoints"]["AP"] == pytest.approx(0.7617, abs=0.02)
    assert scores["bbox"]["AP"] == pytest.approx(0.8900, abs=0.02)
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
