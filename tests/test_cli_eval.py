"""``garmentkp eval`` end to end: numbers equal pycocotools, outputs, warnings, errors and exit codes."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from metrics_data import make_ground_truth, make_results
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations, write_annotations
from garmentcli.schema.layout import DF2

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, dict, list]:
    rng = np.random.default_rng(21)
    gt = make_ground_truth(rng, num_images=40)
    results = make_results(rng, gt, with_box=True)
    folder = tmp_path_factory.mktemp("eval")
    (folder / "gt.json").write_text(json.dumps(gt, indent=1))  # pretty-printed: arrays span lines
    (folder / "pred.json").write_text(json.dumps(results))
    return folder / "gt.json", folder / "pred.json", gt, results


def reference_stats(gt: Path, pred: Path, kind: str) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(str(pred)), kind)
        evaluator.params.kpt_oks_sigmas = DF2.oks_sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats.tolist()


def run(*args: str):
    return runner.invoke(app, ["eval", *args])


def test_json_and_csv_carry_the_pycocotools_numbers(files, tmp_path):
    gt, pred, _, _ = files
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "scores.csv"
    result = run("--gt", str(gt), "--pred", str(pred), "--per-category", "--json", str(out_json), "--csv", str(out_csv))
    assert result.exit_code == 0, result.output
    scores = json.loads(out_json.read_text())
    assert list(scores["keypoints"].values())[:10] == pytest.approx(reference_stats(gt, pred, "keypoints"), abs=1e-9)
    assert list(scores["bbox"].values())[:12] == pytest.approx(reference_stats(gt, pred, "bbox"), abs=1e-9)
    assert {"PCK@0.2", "AUC", "EPE", "NE", "NE_cspn"} <= set(scores["landmarks"])
    rows = list(csv.DictReader(out_csv.open()))
    ap = [r for r in rows if (r["section"], r["group"], r["metric"]) == ("keypoints", "overall", "AP")]
    assert float(ap[0]["value"]) == pytest.approx(scores["keypoints"]["AP"], abs=1e-12)
    per_category = {r["name"] for r in rows if r["group"] == "category"}
    assert per_category == set(scores["keypoints"]["per_category"])
    assert "Keypoint AP (DeepFashion2, OKS)" in result.stdout
    assert "short_sleeved_shirt" in result.stdout


def test_json_to_stdout_is_clean_json(files):
    gt, pred, _, _ = files
    result = run("--gt", str(gt), "--pred", str(pred), "--metrics", "box", "--json", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["bbox"]["AP"] == pytest.approx(reference_stats(gt, pred, "bbox")[0], abs=1e-9)
    assert "keypoints" not in json.loads(result.stdout)


def test_df2_annos_folder_gives_the_same_numbers_as_its_coco_file(files, tmp_path):
    gt, pred, _, _ = files
    write_annotations(read_annotations(gt), tmp_path / "split", "df2")
    out_coco, out_df2 = tmp_path / "coco.json", tmp_path / "df2.json"
    assert run("--gt", str(gt), "--pred", str(pred), "--json", str(out_coco)).exit_code == 0
    result = run("--gt", str(tmp_path / "split"), "--pred", str(pred), "--json", str(out_df2), "--by-attribute")
    assert result.exit_code == 0, result.output
    from_coco, from_df2 = json.loads(out_coco.read_text()), json.loads(out_df2.read_text())
    for section in ("keypoints", "bbox"):
        overall = {k: v for k, v in from_df2[section].items() if k != "by_attribute"}
        assert overall == pytest.approx(from_coco[section], abs=1e-12)
    assert "occlusion=heavy" in from_df2["keypoints"]["by_attribute"]


def test_empty_predictions_score_zero_with_a_warning(files, tmp_path):
    gt, _, _, _ = files
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    out = tmp_path / "scores.json"
    result = run("--gt", str(gt), "--pred", str(empty), "--json", str(out))
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["keypoints"]["AP"] == 0.0
    assert scores["bbox"]["AP"] == 0.0
    assert "no predictions" in result.stderr


def test_predictions_on_unknown_images_and_categories_are_counted(files, tmp_path):
    gt, _, _, results = files
    strays = copy.deepcopy(results)
    for entry in strays[:3]:
        entry["image_id"] = 999_999
    strays[3]["category_id"] = 42
    path = tmp_path / "strays.json"
    path.write_text(json.dumps(strays))
    result = run("--gt", str(gt), "--pred", str(path), "--metrics", "box")
    assert result.exit_code == 0
    assert f"3 of {len(strays)} predictions are on image ids absent" in result.stderr
    assert "1 predictions have categories" in result.stderr


def test_malformed_entries_are_skipped_counted_and_exit_2(files, tmp_path):
    gt, _, _, results = files
    broken = copy.deepcopy(results)
    broken[0]["keypoints"] = broken[0]["keypoints"][:30]
    broken[1]["score"] = "high"
    del broken[2]["image_id"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    out = tmp_path / "scores.json"
    result = run("--gt", str(gt), "--pred", str(path), "--json", str(out))
    assert result.exit_code == 2
    assert "3 malformed prediction entries skipped" in result.stderr
    assert "result #0: 'keypoints' has 30 values, expected 882" in result.stderr
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(results[3:]))
    expected = tmp_path / "expected.json"
    run("--gt", str(gt), "--pred", str(clean), "--json", str(expected))
    assert json.loads(out.read_text())["keypoints"] == json.loads(expected.read_text())["keypoints"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", "ap,mAP"], "--metrics 'ap,mAP': choose from"),
        (["--pairing", "nearest"], "Invalid value for '--pairing'"),
    ],
)
def test_bad_options_are_one_line_errors(files, args, message):
    gt, pred, _, _ = files
    result = run("--gt", str(gt), "--pred", str(pred), *args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_missing_prediction_file_is_a_user_error(files, tmp_path):
    gt, _, _, _ = files
    result = run("--gt", str(gt), "--pred", str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert "nope.json: no such file or folder" in result.stderr


def test_fld_ground_truth_gets_box_and_landmark_metrics(real_data, tmp_path):
    """FLD has no OKS sigmas: no keypoint AP by default; its own annotations pair by id and score perfectly."""
    fld = real_data / "fld" / "fld_coco.json"
    out = tmp_path / "scores.json"
    result = run("--gt", str(fld), "--pred", str(fld), "--json", str(out))
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert "keypoints" not in scores
    assert scores["bbox"]["AP"] == pytest.approx(1.0)
    landmarks = scores["landmarks"]
    assert (landmarks["pairing"], landmarks["paired"], landmarks["PCK@0.2"], landmarks["EPE"]) == ("id", 2, 1.0, 0.0)
    assert "2 predictions carry no score" in result.stderr
    assert landmarks["AUC"] == pytest.approx(0.95)
    refused = run("--gt", str(fld), "--pred", str(fld), "--metrics", "ap")
    assert refused.exit_code == 1
    assert "FLD has no OKS sigmas" in refused.stderr


def test_by_attribute_without_attributes_warns(tmp_path):
    gt = make_ground_truth(np.random.default_rng(1), num_images=5)
    for ann in gt["annotations"]:
        for key in ("scale", "occlusion", "zoom_in", "viewpoint"):
            del ann[key]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(make_results(np.random.default_rng(1), gt, with_box=True)))
    result = run("--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"), "--by-attribute")
    assert result.exit_code == 0
    assert "no scale/occlusion/zoom_in/viewpoint attributes" in result.stderr


def test_jsonl_predictions_give_the_same_numbers_as_the_result_list(files, tmp_path):
    gt, pred, _, _ = files
    write_annotations(read_annotations(pred), tmp_path / "pred.jsonl")
    from_list, from_jsonl = tmp_path / "list.json", tmp_path / "jsonl.json"
    assert run("--gt", str(gt), "--pred", str(pred), "--metrics", "ap,box", "--json", str(from_list)).exit_code == 0
    result = run(
        "--gt", str(gt), "--pred", str(tmp_path / "pred.jsonl"), "--metrics", "ap,box", "--json", str(from_jsonl)
    )
    assert result.exit_code == 0, result.output
    expected, got = json.loads(from_list.read_text()), json.loads(from_jsonl.read_text())
    assert got["keypoints"] == pytest.approx(expected["keypoints"], abs=1e-12)
    assert got["bbox"] == pytest.approx(expected["bbox"], abs=1e-12)
