"""Test scenes for the measure tests: a table plane with ArUco markers seen by a pinhole camera.

Not a test module: the ``test_measure_*`` files import it. The camera homography is built from
first principles (rotation about the table's x axis, focal length, distance), independently of
the code under test; the photo is the board rendered at high resolution and warped through it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from garmentcli.measure.board import BoardLayout, render_board

IMAGE_SIZE = (960, 720)


def camera_homography(
    tilt_deg: float,
    centre_cm: tuple[float, float],
    px_per_cm: float,
    image_size: tuple[int, int] = IMAGE_SIZE,
    focal_px: float = 1200.0,
    yaw_deg: float = 0.0,
) -> np.ndarray:
    """Table plane (cm) -> image (px) for a camera aimed at ``centre_cm``, tilted ``tilt_deg`` off square-on.

    ``px_per_cm`` is the scale at the aim point when square-on (it sets the camera distance).
    """
    width, height = image_size
    tilt, yaw = math.radians(tilt_deg), math.radians(yaw_deg)
    spin = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    lean = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])
    rotation = lean @ spin
    intrinsics = np.array([[focal_px, 0, width / 2], [0, focal_px, height / 2], [0, 0, 1]])
    pose = np.column_stack([rotation[:, 0], rotation[:, 1], [0, 0, focal_px / px_per_cm]])
    shift = np.array([[1, 0, -centre_cm[0]], [0, 1, -centre_cm[1]], [0, 0, 1]])
    homography = intrinsics @ pose @ shift
    return homography / homography[2, 2]


def photograph(layout: BoardLayout, plane_to_image: np.ndarray, image_size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """A BGR photo of the table: the board drawn at 25 px/cm, warped into the camera 4x supersampled, averaged down.

    Pixel centres are at integer coordinates (OpenCV's convention) at both resolutions.
    """
    canvas, plane_to_canvas = render_board(layout, 25.0, margin_cm=3.0)
    factor = 4
    up = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]])
    warp = up @ plane_to_image @ np.linalg.inv(plane_to_canvas)
    big_size = (image_size[0] * factor, image_size[1] * factor)
    big = cv2.warpPerspective(canvas, warp, big_size, flags=cv2.INTER_LINEAR, borderValue=255)
    photo = cv2.resize(big, image_size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)


def project(plane_to_image: np.ndarray, points_cm: np.ndarray) -> np.ndarray:
    """``(K, 2)`` plane cm -> image px."""
    return cv2.perspectiveTransform(np.asarray(points_cm, float).reshape(-1, 1, 2), plane_to_image).reshape(-1, 2)


def local_scale(plane_to_image: np.ndarray, at_cm: np.ndarray) -> float:
    """True px per cm at a plane point: the square root of the homography's local area ratio."""
    step = 1e-3
    at = np.asarray(at_cm, float)
    origin, right, down = project(plane_to_image, at + np.array([[0, 0], [step, 0], [0, step]]))
    (ax, ay), (bx, by) = right - origin, down - origin
    return math.sqrt(abs(ax * by - ay * bx)) / step
