"""Calibration from rendered photos: fixed scales, one marker (scale + tilt warning), and boards under tilt."""

from __future__ import annotations

import numpy as np
import pytest
from measure_scene import camera_homography, local_scale, photograph, project

from garmentcli.errors import InputError
from garmentcli.measure.batch import make_calibrator
from garmentcli.measure.board import BoardLayout
from garmentcli.measure.calibration import (
    CalibrationError,
    FixedScale,
    MarkerBoard,
    MarkerSpec,
    SingleMarker,
    WithFallback,
)
from garmentcli.measure.markers import detect_markers

TABLE = BoardLayout.table_corners(100.0, 70.0, 8.0)
CENTRE = (50.0, 35.0)
GARMENT_CM = np.array([[30.0, 15.0], [70.0, 15.0], [28.0, 60.0], [72.0, 58.0], [50.0, 40.0]])
"""Points of a garment-sized figure on the table, away from the markers."""


def _pair_distances(points: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(points), 1)
    return np.hypot(*(points[i] - points[j]).T)


def test_fixed_scale_and_dpi():
    assert FixedScale(10.0).calibrate().to_plane(np.array([[30.0, 40.0]])) == pytest.approx(np.array([[3.0, 4.0]]))
    dpi = FixedScale.from_dpi(254.0).calibrate()
    assert dpi.px_per_cm == pytest.approx(100.0) and dpi.method == "dpi" and dpi.tilt_deg is None
    with pytest.raises(InputError, match="positive"):
        FixedScale(0.0)
    with pytest.raises(InputError, match="--dpi must be positive"):
        FixedScale.from_dpi(-3.0)


@pytest.mark.parametrize("yaw", [4.0, 33.0])
def test_single_marker_square_on_recovers_scale_within_one_percent(yaw):
    truth = camera_homography(0.0, CENTRE, 6.0, yaw_deg=yaw)
    calibration = SingleMarker(MarkerSpec("4x4_50", 0, 8.0)).calibrate(photograph(TABLE, truth))
    assert calibration.px_per_cm == pytest.approx(6.0, rel=0.01)
    measured = _pair_distances(calibration.to_plane(project(truth, GARMENT_CM)))
    assert measured == pytest.approx(_pair_distances(GARMENT_CM), rel=0.01)
    assert calibration.tilt_deg < 8.0 and calibration.warnings == ()
    assert calibration.method == "marker"


def test_marker_size_as_measured_sets_the_scale():
    """A print scaled to 97 %: passing the measured side gives the right lengths."""
    printed = BoardLayout.table_corners(100.0, 70.0, 8.0 * 0.97)
    truth = camera_homography(0.0, CENTRE, 8.0, yaw_deg=4.0)
    calibration = SingleMarker(MarkerSpec("4x4_50", 1, 8.0 * 0.97)).calibrate(photograph(printed, truth))
    assert calibration.px_per_cm == pytest.approx(8.0, rel=0.01)


@pytest.mark.parametrize("tilt", [20.0, 30.0])
def test_single_marker_warns_when_the_photo_is_oblique(tilt):
    truth = camera_homography(tilt, CENTRE, 8.0, yaw_deg=10.0)
    calibration = SingleMarker(MarkerSpec("4x4_50", 3, 8.0)).calibrate(photograph(TABLE, truth))
    assert calibration.tilt_deg > 12.0
    assert len(calibration.warnings) == 1 and "oblique" in calibration.warnings[0]
    assert "--board" in calibration.warnings[0]


@pytest.mark.parametrize("tilt", [0.0, 15.0, 30.0])
def test_board_recovers_true_scale_and_lengths_under_tilt(tilt):
    truth = camera_homography(tilt, CENTRE, 6.5, yaw_deg=12.0)
    calibration = MarkerBoard(TABLE).calibrate(photograph(TABLE, truth))
    assert calibration.method == "board" and calibration.detail.startswith("4/4 markers, 16 corners")
    assert calibration.px_per_cm == pytest.approx(local_scale(truth, np.array(CENTRE)), rel=0.01)
    assert calibration.tilt_deg == pytest.approx(tilt, abs=2.0)
    plane = calibration.to_plane(project(truth, GARMENT_CM))
    assert _pair_distances(plane) == pytest.approx(_pair_distances(GARMENT_CM), rel=0.005)


def test_board_tolerates_a_hidden_marker():
    truth = camera_homography(25.0, CENTRE, 6.5)
    photo = photograph(TABLE, truth)
    hidden = project(truth, TABLE.markers[2]).astype(np.int32)
    x0, y0 = hidden.min(axis=0) - 4
    x1, y1 = hidden.max(axis=0) + 4
    photo[y0:y1, x0:x1] = 90  # a sleeve lying on marker 2
    calibration = MarkerBoard(TABLE).calibrate(photo)
    assert calibration.detail.startswith("3/4 markers, 12 corners")
    assert calibration.warnings == ("board markers 2 not found; fitted to the rest",)
    plane = calibration.to_plane(project(truth, GARMENT_CM))
    assert _pair_distances(plane) == pytest.approx(_pair_distances(GARMENT_CM), rel=0.005)


def test_missing_and_wrong_markers_are_per_image_errors():
    blank = np.full((200, 300, 3), 255, np.uint8)
    with pytest.raises(CalibrationError, match="no 4x4_50 marker id 0 \\(no markers found\\)"):
        SingleMarker(MarkerSpec("4x4_50", 0, 8.0)).calibrate(blank)
    photo = photograph(TABLE, camera_homography(0.0, CENTRE, 8.0))
    with pytest.raises(CalibrationError, match="no 4x4_50 marker id 7 \\(found ids 0, 1, 2, 3\\)"):
        SingleMarker(MarkerSpec("4x4_50", 7, 8.0)).calibrate(photo)
    with pytest.raises(CalibrationError, match="0 of the board's 4 markers found, need 2"):
        MarkerBoard(TABLE).calibrate(blank)


def test_a_marker_seen_twice_is_ambiguous():
    twins = BoardLayout("4x4_50", {5: TABLE.markers[0], 6: TABLE.markers[1]})
    photo = photograph(twins, camera_homography(0.0, CENTRE, 8.0))
    ids, corners = detect_markers(photo, "4x4_50")
    assert sorted(ids.tolist()) == [5, 6]
    copy = photo.copy()
    x0, y0 = corners[ids.tolist().index(5)].min(axis=0).astype(int) - 6
    x1, y1 = corners[ids.tolist().index(5)].max(axis=0).astype(int) + 6
    copy[y0 + 200 : y1 + 200, x0:x1] = photo[y0:y1, x0:x1]
    with pytest.raises(CalibrationError, match="marker id 5 appears 2 times: ambiguous"):
        SingleMarker(MarkerSpec("4x4_50", 5, 8.0)).calibrate(copy)


def test_fallback_to_a_fixed_scale_records_why():
    calibrator = WithFallback(SingleMarker(MarkerSpec("4x4_50", 9, 8.0)), FixedScale(7.5))
    calibration = calibrator.calibrate(np.full((100, 100, 3), 255, np.uint8))
    assert calibration.method == "px-per-cm" and calibration.px_per_cm == 7.5
    assert calibration.describe() == "px-per-cm (fallback: no 4x4_50 marker id 9 (no markers found))"
    assert "fell back to px-per-cm (7.5 px/cm)" in calibration.warnings[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aruco:4x4_50:0", "expected aruco:DICT:ID:SIZE_CM"),
        ("qr:4x4_50:0:8", "expected aruco:DICT:ID:SIZE_CM"),
        ("aruco:4x4_50:zero:8", "ID must be an integer"),
        ("aruco:4x4_50:0:-8", "SIZE must be a positive number"),
        ("aruco:9x9_50:0:8", "unknown ArUco dictionary '9x9_50'"),
        ("aruco:4x4_50:50:8", "id 50 is not in ArUco dictionary 4x4_50"),
    ],
)
def test_bad_marker_specs(text, message):
    with pytest.raises(InputError, match=message):
        MarkerSpec.parse(text)


def test_marker_spec_accepts_a_cm_suffix():
    assert MarkerSpec.parse("aruco:4X4_50:3:7.5cm") == MarkerSpec("4x4_50", 3, 7.5)
    assert str(MarkerSpec.parse("aruco:4x4_50:3:8")) == "aruco:4x4_50:3:8"


def test_calibration_options():
    assert isinstance(make_calibrator(px_per_cm=5.0), FixedScale)
    assert isinstance(make_calibrator(marker="aruco:4x4_50:0:8", dpi=300.0), WithFallback)
    for kwargs, message in [
        ({}, "no calibration"),
        ({"px_per_cm": 5.0, "dpi": 300.0}, "not both"),
        ({"marker": "aruco:4x4_50:0:8", "board": "b.json"}, "not both"),
        ({"marker": "aruco:4x4_50:0:8", "max_tilt_deg": 95.0}, "--max-tilt"),
    ]:
        with pytest.raises(InputError, match=message):
            make_calibrator(**kwargs)


def test_board_leaves_out_a_moved_marker():
    printed = BoardLayout("4x4_50", {**TABLE.markers, 3: TABLE.markers[3] + [6.0, -4.0]})  # taped down elsewhere
    truth = camera_homography(10.0, CENTRE, 6.5)
    calibration = MarkerBoard(TABLE).calibrate(photograph(printed, truth))
    assert calibration.warnings == ("4 marker corners off the layout (a marker moved?) left out of the fit",)
    assert calibration.detail.startswith("4/4 markers, 12 corners")
    plane = calibration.to_plane(project(truth, GARMENT_CM))
    assert _pair_distances(plane) == pytest.approx(_pair_distances(GARMENT_CM), rel=0.005)


def test_board_leaves_out_an_id_seen_twice():
    truth = camera_homography(10.0, CENTRE, 6.5)
    stray = BoardLayout("4x4_50", {0: TABLE.markers[0] + [40.0, 25.0]})
    photo = np.minimum(photograph(TABLE, truth), photograph(stray, truth))  # a second marker 0 mid-table
    calibration = MarkerBoard(TABLE).calibrate(photo)
    assert calibration.detail.startswith("3/4 markers, 12 corners")
    assert calibration.warnings == ("board ids 0 appear more than once: ambiguous, left out",)
