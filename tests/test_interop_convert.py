"""``garmentkp convert`` with the interoperability formats, end to end through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.coco import read_coco

GOLDEN = Path(__file__).parent / "golden" / "interop"
runner = CliRunner()


@pytest.fixture
def coco_with_images(tmp_path) -> Path:
    """The sample COCO file with its images beside it (as a COCO export usually sits)."""
    source = tmp_path / "src" / "sample.json"
    source.parent.mkdir()
    shutil.copy(GOLDEN / "sample.coco.json", source)
    for record in read_coco(source):
        (source.parent / record.file_name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(source.parent / record.file_name), np.zeros((record.height, record.width, 3), np.uint8))
    return source


def _run(*args: str) -> None:
    result = runner.invoke(app, ["--quiet", "convert", *args])
    assert result.exit_code == 0, result.output


def _summary(path: Path) -> list[tuple]:
    aset = read_coco(path)
    return [
        (r.id, r.file_name, g.category_id, np.round(g.bbox, 2).tolist(), g.landmarks[:, 2].tolist())
        for r in aset
        for g in r.garments
    ]


@pytest.mark.parametrize("fmt", ["yolo", "yolo-grouped"])
def test_convert_to_yolo_and_back(tmp_path, coco_with_images, fmt):
    _run(str(coco_with_images), "-o", str(tmp_path / "ds"), "--to", fmt)  # images default to SRC's folder
    assert (tmp_path / "ds" / "images" / "shop" / "000012.jpg").is_file()
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    assert data["kpt_shape"] == [294 if fmt == "yolo" else 77, 3]
    _run(str(tmp_path / "ds"), "-o", str(tmp_path / "back.json"))  # a folder with data.yaml reads as yolo
    assert _summary(tmp_path / "back.json") == _summary(coco_with_images)


def test_convert_to_yolo_with_an_explicit_image_folder(tmp_path, coco_with_images):
    lone = tmp_path / "lone.json"
    shutil.copy(coco_with_images, lone)
    _run(str(lone), "-o", str(tmp_path / "ds"), "--to", "yolo", "--images", str(coco_with_images.parent))
    assert (tmp_path / "ds" / "images" / "000007.jpg").is_file()


def test_convert_missing_images_is_a_user_error(tmp_path):
    result = runner.invoke(
        app, ["convert", str(GOLDEN / "sample.coco.json"), "-o", str(tmp_path / "ds"), "--to", "yolo"]
    )
    assert result.exit_code == 1
    assert "image not found" in result.output


def test_convert_to_cvat_and_back_by_suffix(tmp_path, coco_with_images):
    _run(str(coco_with_images), "-o", str(tmp_path / "annotations.xml"))
    assert (tmp_path / "annotations.labels.json").is_file()
    _run(str(tmp_path / "annotations.xml"), "-o", str(tmp_path / "back.json"))
    assert _summary(tmp_path / "back.json") == _summary(coco_with_images)


def test_convert_to_label_studio_and_back(tmp_path, coco_with_images):
    _run(str(coco_with_images), "-o", str(tmp_path / "tasks.json"), "--to", "labelstudio")
    assert (tmp_path / "tasks.config.xml").is_file()
    _run(str(tmp_path / "tasks.json"), "-o", str(tmp_path / "back.json"))  # recognised as a Label Studio file
    assert _summary(tmp_path / "back.json") == _summary(coco_with_images)


def test_convert_label_studio_export_with_a_bad_region_exits_partial(tmp_path):
    text = (
        (GOLDEN / "labelstudio" / "export_corrected.json")
        .read_text()
        .replace('["cape"]', "")
        .replace('"rectanglelabels": ["trousers"]', '"rectanglelabels": ["cape"]')
    )
    (tmp_path / "export.json").write_text(text)
    result = runner.invoke(app, ["convert", str(tmp_path / "export.json"), "-o", str(tmp_path / "out.json")])
    assert result.exit_code == 2
    assert "unknown garment category 'cape'" in result.output
    assert read_coco(tmp_path / "out.json").num_garments == 1
