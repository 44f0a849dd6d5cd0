"""Shared fixtures: the ../shared reference and real samples (tests using them skip when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_reference() -> dict:
    """The reference layout JSON beside the checkout, or skip."""
    path = SHARED / "reference" / "deepfashion2_keypoints.json"
    if not path.is_file():
        pytest.skip("../shared/reference is absent")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/data/real`` (DeepFashion2 COCO, FLD COCO, official result examples), or skip."""
    path = SHARED / "data" / "real"
    if not path.is_dir():
        pytest.skip("../shared/data/real is absent")
    return path
