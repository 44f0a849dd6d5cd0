"""``detect --landmarks`` and ``--boxes``: the top-down model composed with the detector, or with given boxes, end
to end through the CLI with an exported top-down model (RTFPose's and CSPN's); its card and export; one-line
errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from garmentcli.cli.app import app  # noqa: E402
from garmentcli.io.formats import read_annotations  # noqa: E402
from garmentcli.models.card import ModelCard  # noqa: E402
from garmentcli.models.config import TOPDOWN_ARCHITECTURE, CspnConfig, TopDownConfig  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images" / "flatlay"
TINY = TopDownConfig(input_width=64, input_height=96, channels=16, hidden=32)


@pytest.fixture(scope="module")
def landmark_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small top-down model (random weights: these tests check the composition, not accuracy), exported."""
    from garmentcli.models.export import export_onnx
    from garmentcli.models.topdown import build_topdown

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("rtfpose") / "tiny-rtfpose.onnx"
    export_onnx(build_topdown(TINY).eval(), ModelCard("tiny-rtfpose", TINY), path)
    return path


@pytest.fixture(scope="module")
def cspn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CSPN model (random weights), exported."""
    from garmentcli.models.cspn import build_cspn
    from garmentcli.models.export import export_onnx

    torch.manual_seed(0)
    config = CspnConfig(input_width=64, input_height=96, channels=16, stages=2)
    path = tmp_path_factory.mktemp("cspn") / "tiny-cspn.onnx"
    export_onnx(build_cspn(config).eval(), ModelCard("tiny-cspn", config), path)
    return path


@pytest.fixture(params=["rtfpose", "cspn"])
def any_landmark_model(request: pytest.FixtureRequest) -> Path:
    """Each top-down model in turn: both go through the one landmarker."""
    return request.getfixturevalue("landmark_model" if request.param == "rtfpose" else "cspn_model")


@pytest.fixture(scope="module")
def few_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("few")
    for name in ("000001.jpg", "000002.jpg", "000003.jpg"):
        (folder / name).write_bytes((SAMPLES / "image" / name).read_bytes())
    return folder


def test_the_card_and_export_of_a_top_down_model(landmark_model: Path):
    card = ModelCard.read(landmark_model.with_suffix(".json"))
    assert card.architecture == TOPDOWN_ARCHITECTURE and card.config == TINY and card.input_text == "64x96px"
    assert card.export["max_abs_diff"] < 1e-3
    listed = CliRunner().invoke(app, ["models"], env={"GARMENTKP_MODEL_DIR": str(landmark_model.parent)})
    assert listed.exit_code == 0 and "64x96px" in listed.output


def test_given_boxes_get_landmarks_for_exactly_those_garments(any_landmark_model: Path, tmp_path: Path):
    out = tmp_path / "pred.json"
    args = ["detect", str(SAMPLES / "image"), "-o", str(out), "--boxes", str(SAMPLES / "coco.json")]
    result = CliRunner().invoke(app, [*args, "--landmarks", str(any_landmark_model)])
    assert result.exit_code == 0, result.output
    truth = {r.file_name: r for r in read_annotations(SAMPLES / "coco.json")}
    predicted = read_annotations(out)
    assert len(predicted) == len(truth) == 16
    for record in predicted:
        given = truth[record.file_name].garments
        assert [g.category_id for g in record.garments] == [g.category_id for g in given]
        for mine, theirs in zip(record.garments, given, strict=True):
            np.testing.assert_allclose(mine.bbox, theirs.bbox)
            assert mine.landmarks.shape == theirs.landmarks.shape
            assert (mine.landmarks[:, 0] <= record.width).all() and (mine.landmarks[:, 2] >= 0).all()
            assert mine.score == pytest.approx(mine.landmarks[:, 2].mean())  # ground truth has no score
    settings = json.loads(out.read_text())["garmentkp_run"]["settings"]
    assert settings["boxes"] == str(SAMPLES / "coco.json") and settings["landmarks"] == any_landmark_model.stem
    assert len(settings["landmarks_sha256"]) == 64 and len(settings["boxes_sha256"]) == 64


def test_landmarks_replace_the_detectors_and_nothing_else(any_landmark_model: Path, few_images: Path, tmp_path: Path):
    from garmentcli.io.images import read_image
    from garmentcli.runtime.topdown import load_landmarker

    plain, composed = tmp_path / "plain.json", tmp_path / "composed.json"
    assert CliRunner().invoke(app, ["detect", str(few_images), "-o", str(plain)]).exit_code == 0
    result = CliRunner().invoke(
        app, ["detect", str(few_images), "-o", str(composed), "--landmarks", str(any_landmark_model)]
    )
    assert result.exit_code == 0, result.output
    landmarker = load_landmarker(any_landmark_model)
    found = 0
    for before, after in zip(read_annotations(plain), read_annotations(composed), strict=True):
        assert [g.category_id for g in after.garments] == [g.category_id for g in before.garments]
        (expected,) = landmarker.landmarks([read_image(few_images / before.file_name)], [before.garments])
        for mine, detector, theirs in zip(after.garments, before.garments, expected, strict=True):
            np.testing.assert_allclose(mine.bbox, detector.bbox, atol=1e-6)
            assert mine.score == pytest.approx(detector.score)
            np.testing.assert_allclose(mine.landmarks, theirs.landmarks, atol=1e-3)  # JSON rounding
            found += 1
    assert found >= 3
    settings = json.loads(composed.read_text())["garmentkp_run"]["settings"]
    assert settings["landmarks"] == any_landmark_model.stem and settings["model"] == "default-int8"  # --precision auto
    resumed = CliRunner().invoke(app, ["detect", str(few_images), "-o", str(composed), "--resume"])
    assert resumed.exit_code == 1 and f"landmarks '{any_landmark_model.stem}' -> None" in resumed.output


def test_top_down_user_errors_are_one_line(landmark_model: Path, few_images: Path, tmp_path: Path):
    out = str(tmp_path / "p.json")
    cases = [
        (["--boxes", str(SAMPLES / "coco.json")], "needs --landmarks MODEL"),
        (["--landmarks", "default"], "a garment detector, not a top-down landmark model"),
        (["--model", str(landmark_model)], "a top-down landmark model, which needs boxes"),
        (["--landmarks", str(landmark_model), "--backend", "torch"], "from its .pt checkpoint"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(app, ["detect", str(few_images), "-o", out, *extra])
        assert result.exit_code == 1 and message in result.output, (extra, result.output)
        assert len(result.output.strip().splitlines()) == 1


def test_an_image_without_given_boxes_is_a_failure_and_the_batch_goes_on(landmark_model: Path, few_images, tmp_path):
    boxes = tmp_path / "two.json"
    full = read_annotations(SAMPLES / "coco.json")
    from garmentcli.io.formats import write_annotations
    from garmentcli.schema.records import AnnotationSet

    write_annotations(AnnotationSet([r for r in full if r.file_name in ("000001.jpg", "000002.jpg")]), boxes)
    out = tmp_path / "p.jsonl"
    args = ["detect", str(few_images), "-o", str(out), "--boxes", str(boxes), "--landmarks", str(landmark_model)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"000003.jpg: {boxes} has no boxes for this image" in result.output.replace("\n", "")
    assert [r.file_name for r in read_annotations(out)] == ["000001.jpg", "000002.jpg"]


def test_measure_takes_its_landmarks_from_the_top_down_model(landmark_model: Path, few_images: Path, tmp_path: Path):
    out = tmp_path / "sizes.csv"
    args = ["measure", str(few_images), "--px-per-cm", "5", "-o", str(out), "--no-refine", "--no-flip"]
    result = CliRunner().invoke(app, [*args, "--landmarks", str(landmark_model)])
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / ".sizes.csv.run.json").read_text())["settings"]
    assert settings["detection"]["landmarks"] == "tiny-rtfpose"
    assert out.read_text().count("\n") > 1


def test_top_down_landmarks_are_refused_on_ray_in_one_line(landmark_model: Path, few_images: Path, tmp_path: Path):
    for command in (
        ["detect", str(few_images), "-o", str(tmp_path / "p.json")],
        ["measure", str(few_images), "--px-per-cm", "5", "-o", str(tmp_path / "s.csv")],
    ):
        result = CliRunner().invoke(app, [*command, "--engine", "ray", "--landmarks", str(landmark_model)])
        assert result.exit_code == 1 and "--landmarks: not on Ray yet" in result.output, result.output
