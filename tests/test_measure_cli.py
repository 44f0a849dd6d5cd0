"""``garmentkp measure`` and ``garmentkp board`` end to end through the Typer app."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from measure_scene import camera_homography, photograph, project
from typer.testing import CliRunner

from garmentcli.cli import measure as measure_cli
from garmentcli.cli.app import app
from garmentcli.io.digest import file_sha256
from garmentcli.io.formats import write_annotations
from garmentcli.io.jsonl import image_to_json
from garmentcli.measure.board import BoardLayout
from garmentcli.measure.markers import detect_markers
from garmentcli.models.codec import DecodeOptions
from garmentcli.models.registry import resolve_model
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

TABLE = BoardLayout.table_corners(100.0, 70.0, 8.0)
SKIRT_CM = np.array(
    [[35, 15], [50, 15.5], [65, 15], [33, 30], [25, 60], [50, 63], [75, 60], [67, 30]], dtype=float
)  # waist 30, hip 34, length 47.5, hem sweep 2 * hypot(25, 3)
FLAT, OBLIQUE = "000001.png", "000002.png"
"""Square-on and 25-degree photos (numbered, as DeepFashion2 split folders need)."""
EXPECTED = {"waist": 30.0, "hip": 34.0, "length": 47.5, "hem_sweep": 2 * math.hypot(25, 3)}


def _skirt(points_px: np.ndarray, visibility: np.ndarray | None = None, score: float | None = None) -> Garment:
    v = np.full(8, 2.0) if visibility is None else visibility
    box = [*points_px.min(axis=0), *(points_px.max(axis=0) - points_px.min(axis=0))]
    return Garment(DF2.category("skirt").id, box, np.column_stack([points_px, v]), score=score, id=7)


@pytest.fixture
def scene(tmp_path):
    """Two photos of a skirt on the marker table: square-on, and 25 degrees oblique; annotations in COCO."""
    photos = tmp_path / "photos"
    photos.mkdir()
    records = []
    for number, (name, tilt) in enumerate([(FLAT, 0.0), (OBLIQUE, 25.0)], start=1):
        truth = camera_homography(tilt, (50.0, 35.0), 6.5, yaw_deg=5.0)
        cv2.imwrite(str(photos / name), photograph(TABLE, truth))
        records.append(ImageRecord(number, name, 960, 720, [_skirt(project(truth, SKIRT_CM))]))
    aset = AnnotationSet(records)
    write_annotations(aset, tmp_path / "gt.json", "coco")
    TABLE.save(tmp_path / "board.json")
    return tmp_path, aset


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_board_calibration_measures_both_photos(scene):
    root, _ = scene
    out = root / "sizes.csv"
    args = ["measure", str(root / "gt.json"), "--images", str(root / "photos"), "--board", str(root / "board.json")]
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out.read_text())
    assert [r["image"] for r in rows] == [FLAT, OBLIQUE]
    for row in rows:
        assert row["category"] == "skirt" and row["garment"] == "0" and row["calibration"].startswith("board (4/4")
        for name, value in EXPECTED.items():
            assert float(row[f"{name}_cm"]) == pytest.approx(value, abs=0.1)
        assert row["chest_width_cm"] == ""  # a column of another category
    assert float(rows[0]["tilt_deg"]) < 3 and float(rows[1]["tilt_deg"]) == pytest.approx(25, abs=2)


def test_single_marker_under_tilt_warns_and_records_the_tilt(scene):
    root, _ = scene
    out = root / "sizes.json"
    args = ["measure", str(root / "gt.json"), "--images", str(root / "photos"), "--marker", "aruco:4x4_50:0:8"]
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{OBLIQUE}: photo is" in result.output and FLAT not in result.output
    flat, oblique = json.loads(out.read_text())
    assert flat["calibration"] == "marker (id 0)" and flat["tilt_deg"] < 8
    assert flat["measurements_cm"]["waist"] == pytest.approx(30.0, abs=0.3)
    assert oblique["tilt_deg"] > 8 and "oblique" in oblique["flags"][0]


def test_pipeline_from_stdin_with_occluded_and_missing_landmarks(scene):
    root, aset = scene
    flat = aset.images[0]
    v = np.full(8, 2.0)
    v[DF2.category("skirt").index["hip_l"]] = 0
    v[DF2.category("skirt").index["waist_l"]] = 1
    flat.garments[0] = _skirt(flat.garments[0].landmarks[:, :2], v)
    stdin = json.dumps(image_to_json(flat)) + "\n"
    args = ["measure", "-", "--images", str(root / "photos"), "--marker", "aruco:4x4_50:2:8", "-o", "-"]
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exit_code == 0, result.output
    (row,) = _rows(result.stdout)
    assert row["garment_id"] == "7" and row["hip_cm"] == "" and float(row["waist_cm"]) == pytest.approx(30.0, abs=0.3)
    assert "hip: missing hip_l" in row["flags"] and "waist: occluded landmarks" in row["flags"]


def test_fixed_scale_needs_no_images_and_dpi_converts(tmp_path):
    garment = _skirt(SKIRT_CM * 10.0)
    write_annotations(AnnotationSet([ImageRecord(1, "scan.png", 1000, 700, [garment])]), tmp_path / "a.jsonl")
    for option in (["--px-per-cm", "10"], ["--dpi", "25.4"]):
        result = CliRunner().invoke(app, ["measure", str(tmp_path / "a.jsonl"), *option, "-o", "-"])
        assert result.exit_code == 0, result.output
        (row,) = _rows(result.stdout)
        assert float(row["hem_sweep_cm"]) == pytest.approx(EXPECTED["hem_sweep"], abs=0.01)
        assert row["tilt_deg"] == "" and float(row["px_per_cm"]) == pytest.approx(10.0)


def test_missing_marker_is_a_per_image_failure_or_falls_back(scene):
    root, _ = scene
    args = ["measure", str(root / "gt.json"), "--images", str(root / "photos"), "--marker", "aruco:4x4_50:9:8"]
    result = CliRunner().invoke(app, [*args, "-o", "-"])
    assert result.exit_code == 2
    assert f"{FLAT}: no 4x4_50 marker id 9 (found ids 0, 1, 2, 3)" in result.output
    rows = _rows(result.stdout)
    assert len(rows) == 2 and rows[0]["waist_cm"] == "" and rows[0]["calibration"] == "none"
    assert rows[0]["flags"].startswith("not calibrated: no 4x4_50 marker id 9")
    fallback = CliRunner().invoke(app, [*args, "--px-per-cm", "6.5", "-o", "-"])
    assert fallback.exit_code == 0
    row = _rows(fallback.stdout)[0]
    assert row["calibration"].startswith("px-per-cm (fallback: no 4x4_50 marker id 9")
    assert float(row["waist_cm"]) == pytest.approx(30.0, abs=0.5)


def test_missing_photo_is_a_per_image_failure(scene):
    root, _ = scene
    (root / "photos" / OBLIQUE).unlink()
    args = ["measure", str(root / "gt.json"), "--images", str(root / "photos"), "--board", str(root / "board.json")]
    result = CliRunner().invoke(app, [*args, "-o", "-"])
    assert result.exit_code == 2
    assert OBLIQUE in result.output and len(_rows(result.stdout)) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "no calibration: give --px-per-cm"),
        (["--marker", "aruco:4x4_50:x:8"], "ID must be an integer"),
        (["--board", "nope.json"], "nope.json: cannot read board layout"),
        (["--px-per-cm", "5", "--definitions", "nope.yaml"], "nope.yaml: cannot read definitions"),
    ],
)
def test_bad_options_exit_1_with_one_line(scene, extra, message):
    root, _ = scene
    result = CliRunner().invoke(app, ["measure", str(root / "gt.json"), *extra, "-o", "-"])
    assert result.exit_code == 1
    assert message in result.output


def test_malformed_definitions_file_exits_1(scene):
    root, _ = scene
    bad = root / "defs.yaml"
    bad.write_text(
        "measurements:\n  - {name: waist, categories: [skirt], method: distance, landmarks: [waist_l, belt]}\n"
    )
    result = CliRunner().invoke(
        app, ["measure", str(root / "gt.json"), "--px-per-cm", "5", "--definitions", str(bad), "-o", "-"]
    )
    assert result.exit_code == 1
    assert "unknown landmark 'belt' for category skirt" in result.output


def test_unknown_category_in_the_stream_is_reported_and_skipped(tmp_path):
    line = {"id": 1, "file_name": "a.png", "garments": [{"category_id": 42, "bbox": [0, 0, 5, 5], "landmarks": []}]}
    result = CliRunner().invoke(app, ["measure", "-", "--px-per-cm", "5", "-o", "-"], input=json.dumps(line) + "\n")
    assert result.exit_code == 2
    assert "line 1" in result.output and "42" in result.output
    assert _rows(result.stdout) == []


def test_image_folder_runs_the_detector_first(scene, monkeypatch):
    root, aset = scene
    by_size = {0: aset.images[0].garments}

    class FakeDetector:
        """The asked model's settings (what the output records), the skirt's true landmarks as detections."""

        def __init__(self, model, refine, flip):
            self.model, self.options, self.refine, self.flip = resolve_model(model), DecodeOptions(), refine, flip
            self.landmarker, self.masks = None, False

        def predict_sources_with_images(self, sources, ids=None, on_error=None):
            from garmentcli.io.images import read_image
            from garmentcli.schema.records import ImageRecord

            for number, source in zip(ids, sources, strict=True):
                image = read_image(source.path)
                yield ImageRecord(number, source.name, image.shape[1], image.shape[0], by_size[0]), image

    asked = []

    def make_detector(model, refine, flip, landmarks=None):
        asked.append((model, refine, flip))
        return FakeDetector(model, refine, flip)

    monkeypatch.setattr(measure_cli, "make_detector", make_detector)
    (root / "photos" / OBLIQUE).unlink()
    args = ["measure", str(root / "photos"), "--board", str(root / "board.json"), "-o", "-"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (row,) = _rows(result.stdout)
    assert row["image"] == FLAT and float(row["hip_cm"]) == pytest.approx(34.0, abs=0.1)
    out = root / "sizes.json"
    assert CliRunner().invoke(app, [*args[:-1], str(out), "--no-refine", "--no-flip"]).exit_code == 0
    # accuracy first unless told otherwise; on the CPU the default's int8 variant (--precision auto)
    assert asked == [("default-int8", True, True), ("default-int8", False, False)]
    detection = json.loads((root / ".sizes.json.run.json").read_text())["settings"]["detection"]
    assert detection["model"] == "default-int8" and (detection["refine"], detection["flip"]) == (False, False)
    assert detection["model_sha256"] == file_sha256(resolve_model("default-int8").onnx)
    assert detection["score_thr"] == DecodeOptions().score_thr


def test_the_output_records_the_settings_that_shaped_it(scene, tmp_path):
    root, _ = scene
    definitions = tmp_path / "mine.yaml"
    definitions.write_text((Path(measure_cli.__file__).parents[1] / "measure" / "definitions.yaml").read_text())
    out = root / "sizes.csv"
    args = ["measure", str(root / "gt.json"), "--images", str(root / "photos"), "--board", str(root / "board.json")]
    assert CliRunner().invoke(app, [*args, "--min-confidence", "0.4", "-o", str(out)]).exit_code == 0
    run = json.loads((root / ".sizes.csv.run.json").read_text())
    assert run["settings"] == {
        "px_per_cm": None,
        "dpi": None,
        "marker": None,
        "board_sha256": file_sha256(root / "board.json"),
        "max_tilt": 8.0,
        "definitions_sha256": None,
        "min_confidence": 0.4,
    }
    rerun = [*args, "--definitions", str(definitions), "--px-per-cm", "6", "-o", str(out)]
    assert CliRunner().invoke(app, rerun).exit_code == 0
    settings = json.loads((root / ".sizes.csv.run.json").read_text())["settings"]
    assert settings["definitions_sha256"] == file_sha256(definitions) and settings["px_per_cm"] == 6
    assert "detection" not in settings  # annotations in: no detector ran


def test_board_command_writes_a_detectable_true_size_board(tmp_path):
    out = tmp_path / "mat.png"
    result = CliRunner().invoke(app, ["board", "--grid", "2x2", "--marker-cm", "4", "--dpi", "100", "-o", str(out)])
    assert result.exit_code == 0, result.output
    layout = BoardLayout.from_json(tmp_path / "mat.json")
    assert sorted(layout.markers) == [0, 1, 2, 3]
    page = cv2.imread(str(out))
    ids, corners = detect_markers(page, "4x4_50")
    assert sorted(ids.tolist()) == [0, 1, 2, 3]
    side_px = np.hypot(*(corners[:, 1] - corners[:, 0]).T)
    assert side_px == pytest.approx(4 * 100 / 2.54, rel=0.01)  # true size at the given dpi
    table = CliRunner().invoke(app, ["board", "--table", "120x80", "--dpi", "72", "-o", str(tmp_path / "t.pdf")])
    assert table.exit_code == 0 and (tmp_path / "t.pdf").read_bytes().startswith(b"%PDF")
    assert BoardLayout.from_json(tmp_path / "t.json").markers[2][0] == pytest.approx([111.0, 71.0])
    both = CliRunner().invoke(app, ["board", "--table", "1x1", "--grid", "2x2", "-o", str(tmp_path / "x.png")])
    assert both.exit_code == 1 and "exactly one of" in both.output


def test_deepfashion2_split_folder_finds_its_images_in_image(scene):
    root, aset = scene
    split = root / "split"
    write_annotations(aset, split, "df2")
    (split / "image").mkdir(exist_ok=True)
    for name in (FLAT, OBLIQUE):
        (split / "image" / name).write_bytes((root / "photos" / name).read_bytes())
    result = CliRunner().invoke(app, ["measure", str(split), "--board", str(root / "board.json"), "-o", "-"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert sorted(r["image"] for r in rows) == [FLAT, OBLIQUE]
    assert all(float(r["waist_cm"]) == pytest.approx(30.0, abs=0.1) for r in rows)


def test_real_deepfashion2_ground_truth_with_a_fixed_scale(real_data):
    coco = real_data / "deepfashion2" / "deepfashion2_coco.json"
    result = CliRunner().invoke(app, ["measure", str(coco), "--px-per-cm", "10", "-o", "-"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert [r["category"] for r in rows] == ["long_sleeved_dress", "long_sleeved_dress"]
    assert "length: missing hem_l, hem_r" in rows[0]["flags"] and rows[0]["length_cm"] == ""
    assert float(rows[1]["length_cm"]) > float(rows[1]["chest_cm"]) > 0
