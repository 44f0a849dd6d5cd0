"""``garmentkp eval --report``: the HTML report's sections, figures and numbers, and that a browser renders it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from metrics_data import make_ground_truth, make_results
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.metrics.confusion import FALSE, MISSED, confusion_matrix
from garmentcli.metrics.diagnostics import diagnose, mean_shape
from garmentcli.metrics.evaluate import evaluate
from garmentcli.metrics.instances import load_instances
from garmentcli.metrics.report import format_value
from garmentcli.schema.layout import DF2

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images" / "flatlay"
runner = CliRunner()


class Page(HTMLParser):
    """What the tests look at in a report: elements with ids, figures, table cells, sources, the data."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.figures: list[dict[str, str]] = []
        self.cells: list[dict[str, str]] = []
        self.sources: list[str] = []
        self.links: list[str] = []
        self.scripts: list[dict[str, str]] = []
        self.data = ""
        self._cell: dict[str, str] | None = None
        self._text: list[str] = []
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag == "figure":
            self.figures.append(attributes)
        if tag == "td" and "data-value" in attributes:
            self._cell, self._text = attributes, []
        for key in ("src", "href"):
            if key in attributes:
                (self.sources if key == "src" else self.links).append(attributes[key])
        if tag == "link":
            self.links.append(attributes.get("href", ""))
        if tag == "script":
            self.scripts.append(attributes)
            self._in_data = attributes.get("id") == "eval-result"

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self._cell["text"] = "".join(self._text)
            self.cells.append(self._cell)
            self._cell = None
        if tag == "script":
            self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)
        if self._in_data:
            self.data += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """The flat-lay sample's ground truth, and perturbed predictions of it as a ``detect``-style COCO file
    that records its run (confused categories, misses, duplicates, false detections)."""
    folder = tmp_path_factory.mktemp("report")
    gt = json.loads((SAMPLES / "coco.json").read_text())
    results = make_results(np.random.default_rng(5), gt, with_box=True)
    document = {
        "garmentkp_run": {"garmentkp": "0.1.0", "settings": {"model": "tiny-test-model", "model_sha256": "ab" * 32}},
        "images": gt["images"],
        "annotations": [{**r, "id": 100_000 + i, "iscrowd": 0} for i, r in enumerate(results)],
        "categories": gt["categories"],
    }
    pred = folder / "pred.json"
    pred.write_text(json.dumps(document))
    return SAMPLES / "coco.json", pred


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory) -> tuple[Path, dict]:
    gt, pred = inputs
    folder = tmp_path_factory.mktemp("out")
    out, scores = folder / "report.html", folder / "scores.json"
    args = ["eval", "--gt", str(gt), "--pred", str(pred), "--images", str(SAMPLES), "--report", str(out)]
    result = runner.invoke(app, [*args, "--per-category", "--by-attribute", "--json", str(scores)])
    assert result.exit_code == 0, result.output
    return out, json.loads(scores.read_text())


def test_report_has_every_section_and_a_template_per_category(report, inputs):
    path, scores = report
    page = parse(path)
    for section in ("summary", "per-category", "pr-curves", "confusion", "pck", "landmarks", "images", "attributes"):
        assert section in page.ids, section
    plots = {f.get("data-plot") for f in page.figures}
    assert {"ap-bars", "pr-bbox", "pr-keypoints", "confusion", "pck", "attributes"} <= plots
    gt = json.loads(inputs[0].read_text())
    categories = {DF2.category(a["category_id"]).name for a in gt["annotations"] if a["num_keypoints"] > 0}
    templates = [f["data-category"] for f in page.figures if f.get("class") == "template"]
    assert sorted(templates) == sorted(categories)  # one figure per category, each once
    assert set(scores["keypoints"]["per_category"]) == categories


def test_report_numbers_are_the_json_numbers(report):
    path, scores = report
    page = parse(path)
    assert json.loads(page.data) == scores
    assert len(page.cells) > 100
    for cell in page.cells:
        assert cell["text"] == format_value(cell["data-metric"], float(cell["data-value"]))
    # the cells of a table row are that row's numbers
    text = path.read_text()
    for name, values in scores["keypoints"]["per_category"].items():
        row = re.search(rf'<tr data-row="{name}">(.*?)</tr>', text[text.index('id="per-category"') :]).group(1)
        assert f'data-metric="AP" data-value="{values["AP"]!r}"' in row
    summary = text[text.index('id="summary"') : text.index('id="per-category"')]
    for section in ("keypoints", "bbox", "landmarks"):
        for metric, value in scores[section].items():
            if isinstance(value, float):
                assert f'data-section="{section}" data-metric="{metric}" data-value="{value!r}"' in summary


def test_report_names_the_run_and_is_self_contained(report):
    path, _ = report
    text = path.read_text()
    page = parse(path)
    assert "tiny-test-model" in text and "sha256 abababababab" in text
    assert "garmentkp eval --gt" in text and "--report" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert page.sources and all(s.startswith("data:image/") for s in page.sources)
    assert all(link.startswith("#") for link in page.links)
    assert [s.get("type") for s in page.scripts] == ["application/json"]  # data only, no code
    assert not re.search(r"(?:https?:)?//[\w.-]+\.\w+/", re.sub(r'xmlns(:\w+)?="[^"]+"', "", text).replace("<\\/", ""))


def test_worst_and_best_images_are_captioned_with_their_file_names(report, inputs):
    path, _ = report
    page = parse(path)
    photos = [f for f in page.figures if "photo" in f.get("class", "")]
    names = {image["file_name"] for image in json.loads(inputs[0].read_text())["images"]}
    assert 12 <= len(photos) <= 16
    assert all(f["data-image"] in names for f in photos)
    assert not [f for f in photos if "missing" in f["class"]]
    assert len({f["data-image"] for f in photos}) == len(photos)
    text = path.read_text()
    worst = text[text.index('id="worst-images"') : text.index('id="best-images"')]
    assert "ground truth" in worst and "prediction" in worst


def test_report_leaves_the_json_as_without_it(inputs, tmp_path):
    gt, pred = inputs
    plain, with_report = tmp_path / "plain.json", tmp_path / "with.json"
    assert runner.invoke(app, ["eval", "--gt", str(gt), "--pred", str(pred), "--json", str(plain)]).exit_code == 0
    args = [
        "eval",
        "--gt",
        str(gt),
        "--pred",
        str(pred),
        "--json",
        str(with_report),
        "--report",
        str(tmp_path / "r.html"),
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads(plain.read_text()) == json.loads(with_report.read_text())
    assert "per_category" not in json.loads(plain.read_text())["keypoints"]


def test_images_without_report_is_refused(inputs, tmp_path):
    gt, pred = inputs
    result = runner.invoke(app, ["eval", "--gt", str(gt), "--pred", str(pred), "--images", str(SAMPLES)])
    assert result.exit_code == 1
    assert "only used with --report" in result.output


def test_box_only_report(tmp_path):
    rng = np.random.default_rng(3)
    gt = make_ground_truth(rng, num_images=20)
    results = [{k: v for k, v in r.items() if k != "keypoints"} for r in make_results(rng, gt, with_box=True)]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    out = tmp_path / "r.html"
    args = ["eval", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"), "--report", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    page = parse(out)
    assert {"pr-bbox", "confusion"} <= {f.get("data-plot") for f in page.figures}
    assert "pr-keypoints" not in {f.get("data-plot") for f in page.figures}
    assert "No landmarks on both sides" in out.read_text()
    assert "model" in out.read_text() and "not recorded" in out.read_text()


def test_reports_of_boxes_only_and_of_no_predictions_show_the_images(tmp_path):
    gt = json.loads((SAMPLES / "coco.json").read_text())
    boxes = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
             for a in gt["annotations"]]  # fmt: skip
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    (tmp_path / "none.json").write_text("[]")
    for name in ("boxes", "none"):
        out = tmp_path / f"{name}.html"
        args = ["eval", "--gt", str(SAMPLES / "coco.json"), "--pred", str(tmp_path / f"{name}.json")]
        result = runner.invoke(app, [*args, "--images", str(SAMPLES), "--report", str(out)])
        assert result.exit_code == 0, result.output
        photos = [f for f in parse(out).figures if f.get("class") == "photo"]
        assert len(photos) == (16 if name == "boxes" else 12)  # 12 worst + 4 best; none good without predictions
        text = out.read_text()
        if name == "boxes":
            assert text.count("mean box IoU 1.000") == 16  # the ground-truth boxes themselves
        else:
            assert "mean OKS 0.000" in text and "→ missed" in text
            assert "No landmark missed" not in text


def test_pck_curves_meet_the_eval_pck(tmp_path):
    rng = np.random.default_rng(11)
    gt_doc = make_ground_truth(rng, num_images=50)
    (tmp_path / "gt.json").write_text(json.dumps(gt_doc))
    (tmp_path / "pred.json").write_text(json.dumps(make_results(rng, gt_doc, with_box=True)))
    gt, pred = load_instances(tmp_path / "gt.json"), load_instances(tmp_path / "pred.json")
    for threshold in (0.1, 0.2, 0.37):
        scores = evaluate(gt, pred, ["pck"], per_category=True, pck_threshold=threshold)["landmarks"]
        found = diagnose(gt, pred, "auto", threshold)
        at = int(np.flatnonzero(found.thresholds == threshold)[0])
        key = f"PCK@{threshold:g}"
        assert found.pck_curves["all"][at] == pytest.approx(scores[key], abs=1e-12)
        for name, values in scores["per_category"].items():
            assert found.pck_curves[name][at] == pytest.approx(values[key], abs=1e-12)
            errors = next(e for e in found.landmarks if e.name == name)
            counted = errors.miss_rate[np.isfinite(errors.miss_rate)]
            assert 1 - counted.mean() == pytest.approx(values[key], abs=1e-12)  # miss rate = 1 - per-landmark PCK


def test_coco_results_are_the_arrays_behind_the_summary(tmp_path):
    rng = np.random.default_rng(2)
    gt_doc = make_ground_truth(rng, num_images=30)
    (tmp_path / "gt.json").write_text(json.dumps(gt_doc))
    (tmp_path / "pred.json").write_text(json.dumps(make_results(rng, gt_doc, with_box=True)))
    gt, pred = load_instances(tmp_path / "gt.json"), load_instances(tmp_path / "pred.json")
    kept: dict = {}
    scores = evaluate(gt, pred, ["ap", "box"], coco_results=kept)
    assert set(kept) == {"keypoints", "bbox"}
    for section, found in kept.items():
        assert found.summarize() == {k: v for k, v in scores[section].items() if isinstance(v, float)}
        assert found.precision.shape[:2] == (10, 101)


def _instances(rows: list[tuple[int, int, list[float], float]]):
    """Instances of ``(image id, category id, box, score)`` rows via the COCO reader."""
    import tempfile

    images = sorted({r[0] for r in rows} | {1, 2, 3})
    document = {
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in images],
        "annotations": [
            {"id": n + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
            | ({"score": s} if s == s else {})
            for n, (i, c, b, s) in enumerate(rows)
        ],
        "categories": [{"id": c.id, "name": c.name} for c in DF2.categories],
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "set.json"
        path.write_text(json.dumps(document))
        return load_instances(path)


def test_confusion_matrix_counts_matches_misses_and_false_detections():
    nan = float("nan")
    gt = _instances(
        [
            (1, 1, [0, 0, 50, 50], nan),
            (1, 8, [60, 60, 30, 30], nan),
            (2, 7, [10, 10, 40, 40], nan),
            (3, 1, [0, 0, 9, 9], nan),
        ]
    )
    pred = _instances(
        [
            (1, 1, [1, 1, 50, 50], 0.9),  # right
            (1, 7, [61, 60, 30, 30], 0.8),  # trousers called shorts
            (2, 7, [70, 70, 20, 20], 0.7),  # off the garment: false, and the garment missed
            (2, 7, [11, 11, 40, 40], 0.1),  # below the score threshold: takes no part
            (3, 1, [0, 0, 9, 9], 0.5),  # right
        ]
    )
    found = confusion_matrix(gt, pred)
    assert found.as_dict() == {
        "short_sleeved_shirt": {"short_sleeved_shirt": 2},
        "shorts": {MISSED: 1},
        "trousers": {"shorts": 1},
        FALSE: {"shorts": 1},
    }
    assert found.matrix.sum() == 5
    assert found.pred_match.tolist() == [0, 1, -1, -2, 3]


def test_mean_shape_undoes_turns_scales_and_shifts():
    rng = np.random.default_rng(0)
    shape = rng.uniform(0, 100, size=(12, 2))
    garments, labelled = [], []
    for _ in range(40):
        angle, scale, shift = rng.uniform(-0.5, 0.5), rng.uniform(0.5, 2), rng.uniform(0, 300, 2)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        garments.append(shape @ turn.T * scale + shift)
        labelled.append(rng.uniform(size=12) > 0.2)
    points, mask = np.array(garments), np.array(labelled)
    boxes = np.array([[*p[m].min(0), *(p[m].max(0) - p[m].min(0))] for p, m in zip(points, mask, strict=True)])
    mean = mean_shape(points, mask, boxes)
    centred = mean - mean.mean(0)
    truth = shape - shape.mean(0)
    factor = np.sum(np.conj(truth[:, 0] + 1j * truth[:, 1]) * (centred[:, 0] + 1j * centred[:, 1])) / np.sum(
        np.abs(truth[:, 0] + 1j * truth[:, 1]) ** 2
    )
    fitted = factor * (truth[:, 0] + 1j * truth[:, 1])
    residual = np.abs(fitted - (centred[:, 0] + 1j * centred[:, 1])).max() / np.abs(fitted).max()
    assert residual < 1e-6


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine (.ci/run installs it)")
def test_report_renders_in_a_headless_browser(report, tmp_path):
    path, _ = report
    shot = tmp_path / "shot.png"
    common = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars"]
    common += [f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1280,2000",
         path.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    problems = [line for line in done.stderr.splitlines() if "Uncaught" in line or "CONSOLE" in line]
    assert not problems, problems
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2000, 1280)
    assert float(image.std()) > 20  # not blank: dark header, white sections, plots
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200
    dom = subprocess.run(
        [*common, "--dump-dom", path.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in ("summary", "landmarks", "images", "attributes"):
        assert f'id="{section}"' in dom.stdout
    templates = [f for f in parse(path).figures if f.get("class") == "template"]
    assert dom.stdout.count('<figure class="template"') == len(templates) > 0
