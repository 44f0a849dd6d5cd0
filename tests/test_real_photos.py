"""Real photos: the hand-checked labels of clothing_small/validation, and the default model's categories on them.

The labels (``benchmarks/data/clothing_small_val.json``) are checked on their own; the checks that
need the photos (``../shared/data/real/clothing_small``, never copied into the repository) skip
without them. The scoring is ``benchmarks/real_val.py``, the one ``benchmarks/bench_real.py`` uses.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import real_val  # noqa: E402

from garmentcli.io.images import image_size  # noqa: E402
from garmentcli.runtime.predictor import Predictor  # noqa: E402
from garmentcli.schema.layout import DF2  # noqa: E402

GARMENT_FOLDERS = {"t-shirt", "longsleeve", "shirt", "outwear", "pants", "shorts", "skirt", "dress"}
NEGATIVE_FOLDERS = {"hat", "shoes"}
TEST_SAMPLE_SHA = "70dc3d18ba56ac9b"
"""First 16 hex digits of the SHA-256 of the sorted test_sample names, one a line: the sample is fixed."""
EXPECTED_CATEGORY_SHARE = {"default": 20 / 32, "photos": 32 / 32}
"""Top-scoring detection's category allowed on the test_sample's 32 garment photos, measured once per
bundled model with ``python benchmarks/bench_real.py --model NAME --subset test_sample`` (score >= 0.2):
the default (synthetic flat-lays only) when the labels were made, 20 of 32; ``photos`` 31 when it first shipped,
32 since its third training round (2026-12-02).
Raise a model's figure when its weights change."""
EXPECTED_BOX_SHARE: dict[str, float | None] = {"default": None, "photos": 32 / 32}
"""Garments with a detection of box IoU >= 0.5, measured the same way (``photos`` only: the default's
boxes proposed most of the labels)."""
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def labels() -> dict:
    return real_val.load_labels()


@pytest.fixture(scope="module")
def clothing(real_data: Path) -> Path:
    """``../shared/data/real`` when it holds clothing_small, or skip."""
    if not real_val.photo_folder(real_data).is_dir():
        pytest.skip("../shared/data/real/clothing_small is absent")
    return real_data


def test_every_labelled_photo_has_its_folder_allowed_set_and_boxes_inside_the_image(labels):
    allowed_by_folder = {folder: set(ids) for folder, ids in labels["allowed_by_folder"].items()}
    assert set(allowed_by_folder) == GARMENT_FOLDERS | NEGATIVE_FOLDERS
    names = [entry["file_name"] for entry in labels["images"]]
    assert len(names) == len(set(names))
    for entry in labels["images"]:
        folder = entry["folder"]
        assert entry["file_name"].split("/")[0] == folder
        assert set(entry["allowed"]) == allowed_by_folder[folder] and set(entry["allowed"]) <= set(DF2.ids)
        if folder in NEGATIVE_FOLDERS:
            assert not entry.get("boxes"), entry["file_name"]
            continue
        assert entry["boxes"] and entry["box_from"] in {"detector", "grabcut", "hand"}, entry["file_name"]
        for x, y, w, h in entry["boxes"]:
            assert w >= 16 and h >= 16, entry["file_name"]
            assert x >= 0 and y >= 0 and x + w <= entry["width"] and y + h <= entry["height"], entry["file_name"]
    excluded = {entry["file_name"] for entry in labels["excluded"]}
    assert not excluded & set(names) and all(entry["reason"] for entry in labels["excluded"])


def test_enough_boxed_garments_in_every_garment_folder(labels):
    boxed = Counter(entry["folder"] for entry in labels["images"] if entry.get("boxes"))
    assert sum(boxed.values()) >= 150
    assert set(boxed) == GARMENT_FOLDERS and min(boxed.values()) >= 10


def test_the_test_sample_is_fixed_and_the_selection_is_the_rest(labels):
    sample, selection = labels["test_sample"], labels["selection"]
    assert len(sample) == 40 and sample == sorted(sample)
    assert hashlib.sha256("\n".join(sample).encode()).hexdigest()[:16] == TEST_SAMPLE_SHA
    assert not set(sample) & set(selection)
    assert set(sample) | set(selection) == {entry["file_name"] for entry in labels["images"]}
    folders = Counter(name.split("/")[0] for name in sample)
    assert set(folders) == GARMENT_FOLDERS | NEGATIVE_FOLDERS
    assert [p.file_name for p in real_val.labelled_photos("test_sample")] == sample


def test_no_photo_is_copied_into_the_repository():
    copies = [p for p in (BENCHMARKS / "data").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}]
    assert copies == []


def test_every_labelled_photo_exists_with_the_recorded_size_and_every_hat_and_shoe_is_labelled(clothing, labels):
    folder = real_val.photo_folder(clothing)
    for entry in labels["images"] + labels["excluded"]:
        assert (folder / entry["file_name"]).is_file(), entry["file_name"]
    for entry in labels["images"]:
        assert image_size(folder / entry["file_name"]) == (entry["width"], entry["height"]), entry["file_name"]
    labelled = {entry["file_name"] for entry in labels["images"]}
    for negative in NEGATIVE_FOLDERS:
        on_disk = {f"{negative}/{p.name}" for p in (folder / negative).iterdir() if p.is_file()}
        assert on_disk and on_disk <= labelled


@pytest.mark.parametrize("model", sorted(EXPECTED_CATEGORY_SHARE))
def test_each_bundled_model_names_the_category_of_the_test_sample_photos(clothing, model):
    photos = real_val.labelled_photos("test_sample")
    summary = real_val.summarise(real_val.evaluate_photos(Predictor(model), photos, clothing))
    share = summary["garment_photos"]["category"]
    assert share >= EXPECTED_CATEGORY_SHARE[model] - TOLERANCE, summary["folders"]
    if EXPECTED_BOX_SHARE[model] is not None:
        assert summary["garment_photos"]["box_iou"] >= EXPECTED_BOX_SHARE[model] - TOLERANCE, summary["folders"]
