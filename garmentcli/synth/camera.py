"""The camera: a pinhole looking at the table plane, as the homography table cm -> image px.

Image coordinates follow OpenCV: the centre of pixel ``(i, j)`` is ``(x=i, y=j)``, so the
image covers ``[-0.5, width - 0.5]``. The table plane has x to the right and y down, in cm.
"""

from __future__ import annotations

import cv2
import numpy as np


def look_at(
    target_cm: np.ndarray,
    px_per_cm: float,
    tilt_deg: float,
    azimuth_deg: float,
    roll_deg: float,
    focal_px: float,
    size: tuple[int, int],
) -> np.ndarray:
    """Homography (3x3) of a camera aimed at ``target_cm`` and tilted ``tilt_deg`` from straight down.

    ``px_per_cm`` is the scale at the target when untilted (focal length over distance); the tilt
    turns the camera about a table axis at ``azimuth_deg``; ``roll_deg`` turns the picture.
    """
    width, height = size
    axis = np.array([np.cos(np.deg2rad(azimuth_deg)), np.sin(np.deg2rad(azimuth_deg)), 0.0])
    tilt, _ = cv2.Rodrigues(axis * np.deg2rad(tilt_deg))
    roll, _ = cv2.Rodrigues(np.array([0.0, 0.0, np.deg2rad(roll_deg)]))
    rotation = roll @ tilt
    distance = focal_px / px_per_cm
    forward = rotation.T @ np.array([0.0, 0.0, 1.0])
    centre = np.array([target_cm[0], target_cm[1], 0.0]) - distance * forward
    intrinsics = np.array([[focal_px, 0, (width - 1) / 2], [0, focal_px, (height - 1) / 2], [0, 0, 1.0]])
    extrinsic = np.column_stack([rotation[:, 0], rotation[:, 1], -rotation @ centre])
    homography = intrinsics @ extrinsic
    return homography / homography[2, 2]


def project(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a homography to ``(..., 2)`` points."""
    flat = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mapped = flat @ homography[:, :2].T + homography[:, 2]
    return (mapped[:, :2] / mapped[:, 2:3]).reshape(np.shape(points))


def scale_at(homography: np.ndarray, image_point: np.ndarray) -> float:
    """Pixels per cm of the table plane at an image point: the square root of the local area scale."""
    plane = project(np.linalg.inv(homography), np.asarray(image_point, dtype=np.float64))
    mapped = homography @ np.array([plane[0], plane[1], 1.0])
    x = mapped[:2] / mapped[2]
    jacobian = (homography[:2, :2] - np.outer(x, homography[2, :2])) / mapped[2]
    return float(np.sqrt(abs(np.linalg.det(jacobian))))


def pixel_plane_coords(
    homography: np.ndarray,
    x0: int,
    y0: int,
    width: int,
    height: int,
    origin: tuple[int, int] = (0, 0),
    step: int = 1,
) -> np.ndarray:
    """Table-plane cm of pixel centres ``origin + step * (x0 + i, y0 + j)`` for a ``width`` x ``height`` grid.

    Returns ``(height, width, 2)`` float32; the defaults give the image's own pixels.
    """
    inverse = np.linalg.inv(homography).astype(np.float32)
    xs = origin[0] + step * np.arange(x0, x0 + width, dtype=np.float32)
    ys = origin[1] + step * np.arange(y0, y0 + height, dtype=np.float32)
    den = inverse[2, 0] * xs[None, :] + inverse[2, 1] * ys[:, None] + inverse[2, 2]
    u = (inverse[0, 0] * xs[None, :] + inverse[0, 1] * ys[:, None] + inverse[0, 2]) / den
    v = (inverse[1, 0] * xs[None, :] + inverse[1, 1] * ys[:, None] + inverse[1, 2]) / den
    return np.stack([u, v], axis=-1)
