"""ArUco markers on the table plane, drawn with exact sub-pixel geometry.

A marker is given by its four corners on the table (cm, ArUco order: top-left, top-right,
bottom-right, bottom-left as printed). It is rendered by warping its cell bitmap (with a white
quiet zone) through the same homography as the scene at four times the image resolution and
area-averaging down, so its true corners are where a sub-pixel detector finds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from garmentcli.measure.board import MarkerSpec, aruco_dictionary
from garmentcli.synth.camera import project

__all__ = ["SUPERSAMPLE", "MarkerSpec", "draw_marker", "draw_markers", "marker_bitmap", "quiet_corners"]
"""``MarkerSpec`` is :class:`garmentcli.measure.board.MarkerSpec`, the one marker spelling of the tool."""

SUPERSAMPLE = 4


def marker_bitmap(dictionary: str, marker_id: int, quiet_cells: int) -> np.ndarray:
    """The marker's cells (0 black, 255 white), one pixel per cell, with ``quiet_cells`` of white around."""
    aruco = aruco_dictionary(dictionary)
    cells = aruco.markerSize + 2
    bitmap = cv2.aruco.generateImageMarker(aruco, marker_id, cells, borderBits=1)
    return cv2.copyMakeBorder(bitmap, *([quiet_cells] * 4), cv2.BORDER_CONSTANT, value=255)


def quiet_corners(corners_cm: np.ndarray, cells: int, quiet_cells: int) -> np.ndarray:
    """The corners of the marker's white paper square (the quiet zone's outer edge), cm."""
    centre = corners_cm.mean(axis=0)
    return centre + (corners_cm - centre) * (cells + 2 * quiet_cells) / cells


def draw_marker(
    image: np.ndarray,
    homography: np.ndarray,
    corners_cm: np.ndarray,
    dictionary: str,
    marker_id: int,
    quiet_cells: int = 1,
    ink: float = 22.0,
    paper: float = 238.0,
) -> np.ndarray:
    """Paint the marker into the float32 BGR ``image`` in place; returns its 4 corners in image px."""
    bitmap = marker_bitmap(dictionary, marker_id, quiet_cells).astype(np.float32)
    n = bitmap.shape[0]
    cells = n - 2 * quiet_cells
    corners_cm = np.asarray(corners_cm, dtype=np.float64)
    cell_x = (corners_cm[1] - corners_cm[0]) / cells
    cell_y = (corners_cm[3] - corners_cm[0]) / cells
    origin = corners_cm[0] + (0.5 - quiet_cells) * (cell_x + cell_y)
    bitmap_to_table = np.array([[cell_x[0], cell_y[0], origin[0]], [cell_x[1], cell_y[1], origin[1]], [0, 0, 1]])
    outline = project(homography, quiet_corners(corners_cm, cells, quiet_cells))
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + 3, [width, height])
    if x1 > x0 and y1 > y0:
        s = SUPERSAMPLE
        to_fine = np.array([[s, 0, s * -x0 + (s - 1) / 2], [0, s, s * -y0 + (s - 1) / 2], [0, 0, 1]])
        full = to_fine @ homography @ bitmap_to_table
        size = (s * (x1 - x0), s * (y1 - y0))
        cells_fine = cv2.warpPerspective(bitmap, full, size, flags=cv2.INTER_NEAREST, borderValue=0)
        cover_fine = cv2.warpPerspective(np.ones_like(bitmap), full, size, flags=cv2.INTER_NEAREST, borderValue=0)
        value = cv2.resize(cells_fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(cover_fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)[..., None]
        roi = image[y0:y1, x0:x1]
        roi *= 1 - alpha
        roi += ink * alpha + ((paper - ink) / 255.0) * value[..., None]
    return project(homography, corners_cm)


def draw_markers(
    image: np.ndarray,
    homography: np.ndarray,
    markers: Sequence[tuple[str, int, np.ndarray]],
    quiet_cells: int,
) -> list[dict[str, object]]:
    """Paint each ``(dictionary, id, corners_cm)`` marker (:func:`draw_marker`); returns the ground truth of
    each, as the annotations' ``synth.markers`` hold it."""
    truth: list[dict[str, object]] = []
    for dictionary, marker_id, corners_cm in markers:
        corners_px = draw_marker(image, homography, corners_cm, dictionary, marker_id, quiet_cells)
        side = float(np.mean(np.hypot(*np.diff(np.vstack([corners_cm, corners_cm[:1]]), axis=0).T)))
        truth.append(
            {
                "dictionary": dictionary,
                "id": int(marker_id),
                "size_cm": round(side, 4),
                "corners_px": np.round(corners_px, 4).tolist(),
                "corners_cm": np.round(corners_cm, 4).tolist(),
            }
        )
    return truth
