"""Marker corners to a few hundredths of a pixel, including the half-pixel phase that trips OpenCV's refinement."""

from __future__ import annotations

import numpy as np
import pytest
from measure_scene import camera_homography, photograph, project

from garmentcli.measure.board import BoardLayout
from garmentcli.measure.markers import detect_markers

TABLE = BoardLayout.table_corners(100.0, 70.0, 8.0)


@pytest.mark.parametrize(("scale", "yaw", "tilt"), [(8.0, 0.0, 0.0), (6.3, 17.0, 0.0), (6.0, 20.0, 25.0)])
def test_corners_match_the_true_projection(scale, yaw, tilt):
    """At 8 px/cm square-on every marker edge falls exactly on a pixel centre (half-covered pixels)."""
    truth = camera_homography(tilt, (50.0, 35.0), scale, yaw_deg=yaw)
    ids, corners = detect_markers(photograph(TABLE, truth), "4x4_50")
    assert sorted(ids.tolist()) == [0, 1, 2, 3]
    for marker_id, found in zip(ids, corners, strict=True):
        assert found == pytest.approx(project(truth, TABLE.markers[int(marker_id)]), abs=0.06)


def test_a_partly_covered_edge_still_gives_the_corners():
    truth = camera_homography(0.0, (50.0, 35.0), 7.0, yaw_deg=9.0)
    photo = photograph(TABLE, truth)
    top_left, top_right = project(truth, TABLE.markers[0][:2])
    x0, x1 = int(top_left[0]) + 8, int(top_left[0]) + 24
    y = int(min(top_left[1], top_right[1]))
    photo[y - 6 : y - 1, x0:x1] = 120  # a grey thread lying along the marker's top edge, outside it
    ids, corners = detect_markers(photo, "4x4_50")
    found = corners[ids.tolist().index(0)]
    assert found == pytest.approx(project(truth, TABLE.markers[0]), abs=0.1)


def test_no_markers_gives_empty_arrays():
    ids, corners = detect_markers(np.full((50, 60), 255, np.uint8), "4x4_50")
    assert ids.shape == (0,) and corners.shape == (0, 4, 2)
