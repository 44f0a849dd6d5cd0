"""``garmentkp measure --report [--truth]``: histograms per measurement, errors against true sizes."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_eval_report import chromium, parse
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.measure.compare import TrueGarment, measurement_errors, pair_with_truth
from garmentcli.measure.definitions import Measurement
from garmentcli.measure.runner import GarmentMeasurements
from garmentcli.schema.records import Garment
from garmentcli.viz.measure_report import centimetres

MARKER = Path(__file__).resolve().parents[1] / "sample_images" / "marker"
runner = CliRunner()


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("measure_report")
    sizes, report = folder / "sizes.csv", folder / "sizes.html"
    args = ["measure", str(MARKER / "coco.json"), "--marker", "aruco:4x4_50:0:8cm", "-o", str(sizes)]
    result = runner.invoke(app, [*args, "--report", str(report), "--truth", str(MARKER / "coco.json")])
    assert result.exit_code == 0, result.output
    return sizes, report


def embedded(path: Path) -> dict:
    text = path.read_text()
    start = text.index('<script type="application/json" id="measure-result">') + len(
        '<script type="application/json" id="measure-result">'
    )
    return json.loads(text[start : text.index("</script>", start)])


def test_errors_are_measured_minus_true_per_measurement(measured):
    sizes, report = measured
    page = parse(report)
    assert {"summary", "values", "errors"} <= set(page.ids)
    assert {"values", "errors", "truth"} <= {f.get("data-plot") for f in page.figures}
    truth = {
        (image["file_name"], a["id"]): a["measurements_cm"]
        for image in json.loads((MARKER / "coco.json").read_text())["images"]
        for a in json.loads((MARKER / "coco.json").read_text())["annotations"]
        if a["image_id"] == image["id"]
    }
    errors: dict[str, list[float]] = {}
    for row in csv.DictReader(sizes.open()):
        true = truth[(row["image"], int(row["garment_id"]))]
        for name, value in true.items():
            if row.get(f"{name}_cm"):
                errors.setdefault(name, []).append(float(row[f"{name}_cm"]) - value)
    data = embedded(report)
    assert data["pairing"] == {"paired": 15, "unpaired_measured": 0, "unmeasured_truth": 0}
    assert set(data["errors"]) == set(errors)
    for name, values in errors.items():
        # the CSV keeps 2 decimals, the report the full value
        assert data["errors"][name]["count"] == len(values)
        assert data["errors"][name]["median_abs_cm"] == pytest.approx(np.median(np.abs(values)), abs=0.006)
        assert data["errors"][name]["bias_cm"] == pytest.approx(np.mean(values), abs=0.006)
    cells = [c for c in page.cells if c["data-section"] == "errors"]
    assert len(cells) == 5 * len(errors)
    assert all(c["text"] == centimetres(c["data-metric"], float(c["data-value"])) for c in cells)


def test_a_measure_table_as_truth_and_no_truth(measured, tmp_path):
    sizes, _ = measured
    report = tmp_path / "again.html"
    args = ["measure", str(MARKER / "coco.json"), "--marker", "aruco:4x4_50:0:8cm", "-o", str(tmp_path / "s.json")]
    result = runner.invoke(app, [*args, "--report", str(report), "--truth", str(sizes)])
    assert result.exit_code == 0, result.output
    data = embedded(report)
    assert data["pairing"]["paired"] == 15
    for figures in data["errors"].values():
        assert figures["median_abs_cm"] < 0.006 and figures["missing"] == 0  # the same run, rounded to 0.01 cm
    plain = tmp_path / "plain.html"
    assert runner.invoke(app, [*args, "--report", str(plain)]).exit_code == 0
    page = parse(plain)
    assert "errors" not in page.ids and "values" in page.ids
    assert embedded(plain)["garments"] == 15
    assert {c["data-section"] for c in page.cells} == {"measurements"}


def test_truth_without_report_is_refused(tmp_path):
    args = ["measure", str(MARKER / "coco.json"), "--px-per-cm", "2", "-o", str(tmp_path / "s.csv")]
    result = runner.invoke(app, [*args, "--truth", str(MARKER / "coco.json")])
    assert result.exit_code == 1
    assert "only used with --report" in result.output


def _row(image: str, category: int, box: list[float], value: float, garment_id: int | None = None):
    garment = Garment(category, np.array(box), np.zeros((0, 3)), score=0.9, id=garment_id)
    return GarmentMeasurements(image, 0, garment, None, {"chest_width": Measurement(value)})


def test_detections_pair_with_truth_by_box_and_category():
    truth = [
        TrueGarment("a/1.jpg", 1, {"chest_width": 50.0}, 7, np.array([0, 0, 100, 100.0])),
        TrueGarment("a/1.jpg", 1, {"chest_width": 40.0}, 8, np.array([200, 0, 100, 100.0])),
        TrueGarment("a/2.jpg", 8, {"chest_width": 30.0}, 9, None),
    ]
    rows = [
        _row("1.jpg", 1, [205, 5, 100, 100], 41.0),  # the second shirt by IoU (bare name matches a/1.jpg)
        _row("1.jpg", 1, [500, 500, 10, 10], 99.0),  # overlaps nothing: unpaired
        _row("a/2.jpg", 8, [0, 0, 1, 1], 33.0),  # no box in the truth: the only trousers of the image
        _row("a/1.jpg", 2, [0, 0, 100, 100], 51.0),  # other category: unpaired
    ]
    pairs = pair_with_truth(rows, truth)
    assert [(r.garment.bbox[0], t.garment_id) for r, t in pairs] == [(205, 8), (0, 9)]
    errors = measurement_errors(rows, truth, ["chest_width"])
    assert errors.errors["chest_width"].tolist() == [1.0, 3.0]
    assert (errors.paired, errors.unpaired_rows, errors.unmeasured_truth) == (2, 2, 1)


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine (.ci/run installs it)")
def test_measure_report_renders_in_a_headless_browser(measured, tmp_path):
    _, report = measured
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", f"--user-data-dir={tmp_path}",
         "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1280,1600",
         report.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [line for line in done.stderr.splitlines() if "Uncaught" in line or "CONSOLE" in line]
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and float(image.std()) > 20
