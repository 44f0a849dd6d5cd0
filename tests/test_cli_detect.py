"""``garmentkp detect`` end to end: outputs pycocotools loads, streaming + resume, every bad image kind."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import orjson
import pytest
from models_tiny import shared_tiny_model
from PIL import Image
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations
from garmentcli.io.sources import expand_sources
from garmentcli.runtime.output import DetectionSink, sidecar_path

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    return shared_tiny_model()


def _photo(seed: int, height: int = 48, width: int = 72) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (5, 5), 0)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    (root / "shop").mkdir(parents=True)
    for index in range(1, 4):
        cv2.imwrite(str(root / f"{index:06d}.jpg"), _photo(index))
    cv2.imwrite(str(root / "shop" / "jacket.png"), _photo(9, 80, 50))
    cv2.imwrite(str(root / "shop" / "000010.jpg"), _photo(10))
    return root


def _detect(tiny, *args: str):
    return runner.invoke(app, ["detect", *args, "--model", str(tiny), "--score-thr", "0.3", "--max-dets", "3"])


def test_json_output_is_df2_coco_that_pycocotools_loads(tiny, folder, tmp_path):
    from pycocotools.coco import COCO

    out = tmp_path / "pred.json"
    result = _detect(tiny, str(folder), "-o", str(out), "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "5 images" in result.output and "0 failures" in result.output
    coco = COCO(str(out))
    images = {img["file_name"]: img["id"] for img in coco.dataset["images"]}
    assert images == {"000001.jpg": 1, "000002.jpg": 2, "000003.jpg": 3, "shop/000010.jpg": 10, "shop/jacket.png": 11}
    assert coco.dataset["images"][0]["width"] == 72 and coco.dataset["images"][0]["height"] == 48
    annotations = coco.dataset["annotations"]
    assert annotations and all(len(a["keypoints"]) == 294 * 3 for a in annotations)
    assert len(coco.getCatIds()) == 13
    assert not sidecar_path(out).exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_jsonl_and_csv_outputs_hold_the_same_detections(tiny, folder, tmp_path, suffix):
    reference = tmp_path / "ref.json"
    _detect(tiny, str(folder), "-o", str(reference))
    out = tmp_path / f"pred{suffix}"
    result = _detect(tiny, str(folder), "-o", str(out))
    assert result.exit_code == 0, result.output
    expected = read_annotations(reference)
    produced = read_annotations(out)
    assert produced.num_garments == expected.num_garments > 0
    by_name = {r.file_name: r for r in expected}
    for record in produced:
        for a, b in zip(record.garments, by_name[record.file_name].garments, strict=True):
            np.testing.assert_allclose(a.bbox, b.bbox, atol=1e-3)


def test_dash_streams_json_lines_to_stdout(tiny, folder):
    result = _detect(tiny, str(folder / "shop"), "-o", "-")
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(line["file_name"] for line in lines) == ["000010.jpg", "jacket.png"]


def test_viz_writes_one_overlay_per_image(tiny, folder, tmp_path):
    result = _detect(tiny, str(folder), "-o", str(tmp_path / "p.jsonl"), "--viz", str(tmp_path / "viz"))
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path / "viz").as_posix() for p in (tmp_path / "viz").rglob("*.jpg"))
    assert written == ["000001.jpg", "000002.jpg", "000003.jpg", "shop/000010.jpg", "shop/jacket.jpg"]
    assert cv2.imread(str(tmp_path / "viz" / "shop" / "jacket.jpg")).shape == (80, 50, 3)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_an_interrupted_run_keeps_its_images_and_resume_does_the_rest(tiny, folder, tmp_path, monkeypatch, suffix):
    out = tmp_path / f"pred{suffix}"
    original = DetectionSink.append
    calls = []

    def append_then_crash(self, record):
        if len(calls) == 2:
            raise RuntimeError("power cut")
        calls.append(record.file_name)
        original(self, record)

    monkeypatch.setattr(DetectionSink, "append", append_then_crash)
    crashed = _detect(tiny, str(folder), "-o", str(out), "--batch-size", "1")
    assert isinstance(crashed.exception, RuntimeError)
    stream = out if suffix == ".jsonl" else sidecar_path(out)
    assert len(stream.read_bytes().splitlines()) == 2
    if suffix == ".json":
        assert not out.exists()  # the final file is written only when the run completes

    monkeypatch.setattr(DetectionSink, "append", original)
    resumed = _detect(tiny, str(folder), "-o", str(out), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 2 of 5 images already done" in resumed.output
    assert "3 images" in resumed.output
    final = read_annotations(out)
    assert sorted(r.id for r in final) == [1, 2, 3, 10, 11]

    again = _detect(tiny, str(folder), "-o", str(out), "--resume")  # a finished output resumes to nothing to do
    assert "resuming: 5 of 5" in again.output and "0 images" in again.output
    assert sorted(r.id for r in read_annotations(out)) == [1, 2, 3, 10, 11]


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_every_bad_image_kind_is_reported_and_the_rest_detected(tiny, tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    image = _photo(3, 40, 70)
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    (root / "corrupt.jpg").write_bytes(jpeg[:20] + bytes(range(256)))
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    (root / "huge.png").write_bytes(_png_header_only(30_000, 30_000))
    cv2.imwrite(str(root / "gray.png"), image[:, :, 0])
    cv2.imwrite(str(root / "rgba.png"), cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(root / "deep16.png"), image.astype(np.uint16) * 257)
    upright = Image.fromarray(image[:, :, ::-1])
    exif = upright.getexif()
    exif[274] = 6  # stored sideways: viewers rotate it 90 degrees clockwise
    upright.save(root / "exif.jpg", exif=exif)

    out = tmp_path / "pred.json"
    result = _detect(tiny, str(root), "-o", str(out))
    assert result.exit_code == 2, result.output
    for name in ("corrupt.jpg", "truncated.jpg", "empty.jpg", "text.png", "huge.png"):
        assert f"{name}:" in result.output
    assert "4 images" in result.output and "5 failures" in result.output
    records = {r.file_name: r for r in read_annotations(out)}
    assert sorted(records) == ["deep16.png", "exif.jpg", "gray.png", "rgba.png"]
    assert (records["exif.jpg"].width, records["exif.jpg"].height) == (40, 70)
    assert (records["gray.png"].width, records["gray.png"].height) == (70, 40)


def test_unknown_model_is_a_one_line_user_error(folder, tmp_path):
    result = runner.invoke(app, ["detect", str(folder), "-o", str(tmp_path / "p.json"), "--model", "nope"])
    assert result.exit_code == 1
    assert "model 'nope' not found" in result.output


def test_resume_to_stdout_is_refused(tiny, folder):
    result = _detect(tiny, str(folder), "-o", "-", "--resume")
    assert result.exit_code == 1
    assert "--resume needs an output file" in result.output


def test_real_deepfashion2_photos_get_the_dataset_image_ids(tiny, real_data, tmp_path):
    from pycocotools.coco import COCO

    out = tmp_path / "pred.json"
    result = _detect(tiny, *map(str, sorted((real_data / "deepfashion2").glob("*.jpg"))), "-o", str(out))
    assert result.exit_code == 0, result.output
    truth = COCO(str(real_data / "deepfashion2" / "deepfashion2_coco.json"))
    predicted = COCO(str(out))
    assert sorted(predicted.getImgIds()) == sorted(truth.getImgIds()) == [264, 265]
    for image_id in (264, 265):
        ours, theirs = predicted.imgs[image_id], truth.imgs[image_id]
        assert (ours["width"], ours["height"]) == (theirs["width"], theirs["height"])


def test_sample_images_end_to_end(tiny, tmp_path):
    from pycocotools.coco import COCO

    samples = Path(__file__).resolve().parents[1] / "sample_images"
    if not samples.is_dir():
        pytest.skip("sample_images/ is not there yet")
    out = tmp_path / "pred.json"
    result = _detect(tiny, str(samples), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(COCO(str(out)).getImgIds()) == len(list(expand_sources([str(samples)])))


@pytest.mark.parametrize("extra", [["--backend", "torch"], ["--flip"], ["--plain"]], ids=["torch", "flip", "plain"])
def test_backend_and_decoding_switches_produce_valid_output(tiny, folder, tmp_path, extra):
    out = tmp_path / "pred.jsonl"
    result = _detect(tiny, str(folder / "shop"), "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    produced = read_annotations(out)
    assert sorted(r.file_name for r in produced) == ["000010.jpg", "jacket.png"]
    for _, garment in produced.garments():
        garment.validate()
