"""The visibility mapping shared by every converter (garmentcli.io.visibility)."""

from __future__ import annotations

import numpy as np
import pytest

from garmentcli.errors import FormatError
from garmentcli.io import visibility as vis
from garmentcli.schema.records import Garment
from garmentcli.schema.visibility import FLD_CODES

FLAGS = np.array([2, 1, 0, 2, 0, 1])


def _garment(v, score=None) -> Garment:
    landmarks = np.zeros((25, 3))
    landmarks[: len(v), 2] = v
    return Garment(1, [0, 0, 10, 10], landmarks, score=score)


def test_ground_truth_flags_pass_through_unchanged():
    assert vis.canonical_flags(_garment([2, 1, 0, 2]))[:4].tolist() == [2, 1, 0, 2]


def test_prediction_confidences_become_flags_never_confidences():
    flags = vis.canonical_flags(_garment([0.93, 0.5, 0.49, 0.01, 0.0], score=0.8))
    assert flags[:5].tolist() == [2, 2, 1, 1, 0]
    assert set(flags.tolist()) <= {0, 1, 2}


def test_prediction_threshold_is_adjustable():
    assert vis.canonical_flags(_garment([0.6], score=0.8), visible_confidence=0.7)[0] == vis.OCCLUDED


@pytest.mark.parametrize("bad", [0.5, 3, -1])
def test_ground_truth_with_a_non_flag_value_is_refused(bad):
    with pytest.raises(FormatError, match="0, 1 or 2"):
        vis.canonical_flags(_garment([2, bad]))


@pytest.mark.parametrize("fmt", ["coco", "df2", "yolo", "fld"])
def test_numeric_codes_round_trip(fmt):
    assert vis.from_codes(vis.to_codes(FLAGS, fmt), fmt).tolist() == FLAGS.tolist()


def test_coco_and_yolo_codes_are_the_flags_themselves():
    assert vis.to_codes(FLAGS, "yolo").tolist() == FLAGS.tolist()
    assert vis.to_codes(FLAGS, "coco").tolist() == FLAGS.tolist()


def test_fld_codes_agree_with_the_fld_schema():
    assert vis.FLAG_CODES["fld"] is FLD_CODES
    assert vis.to_codes(FLAGS, "fld").tolist() == [0, 1, 2, 0, 2, 1]
    fld = np.array([0, 1, 2])
    assert vis.from_codes(fld, "fld").tolist() == [2, 1, 0]


def test_unknown_code_and_unknown_format_are_format_errors():
    with pytest.raises(FormatError, match="yolo visibility"):
        vis.from_codes(np.array([2, 0.7]), "yolo")
    with pytest.raises(FormatError, match="no numeric visibility"):
        vis.to_codes(FLAGS, "cvat")


def test_cvat_flags():
    outside, occluded = vis.to_cvat(FLAGS)
    assert outside.tolist() == [False, False, True, False, True, False]
    assert occluded.tolist() == [False, True, False, False, False, True]
    assert vis.from_cvat(outside, occluded).tolist() == FLAGS.tolist()
    assert vis.from_cvat([True], [True]).tolist() == [vis.UNLABELLED]  # outside wins


def test_labelstudio_choices():
    assert [vis.to_labelstudio(f) for f in FLAGS] == ["visible", "occluded", None, "visible", None, "occluded"]
    assert vis.from_labelstudio(None) == vis.from_labelstudio([]) == vis.VISIBLE
    assert vis.from_labelstudio(["occluded"]) == vis.OCCLUDED
    with pytest.raises(FormatError, match="unknown keypoint visibility"):
        vis.from_labelstudio(["hidden"])
