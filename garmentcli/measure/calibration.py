"""From image pixels to centimetres on the table plane: fixed scale, one ArUco marker, or a marker board.

Every calibrator turns an image (or nothing, for a fixed scale) into a :class:`Calibration`: a
homography from image pixels to table-plane cm, the scale at the reference point, the estimated
camera tilt and any warning. A single marker gives scale only (a similarity), because four corners
a few dozen pixels apart cannot fix the perspective of a garment ten times larger; its shape still
tells how oblique the photo is, and a photo beyond ``max_tilt_deg`` gets a warning. A board fits
the full homography to every detected corner of every known marker (RANSAC, then least squares
on the inliers), so it works under tilt and with a marker hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from garmentcli.errors import InputError
from garmentcli.measure.board import BoardLayout, MarkerSpec, square_corners
from garmentcli.measure.markers import detect_markers

CM_PER_INCH = 2.54


class CalibrationError(InputError):
    """An image cannot be calibrated: its marker is missing, ambiguous or unusable."""


@dataclass(frozen=True)
class Calibration:
    """How one image maps to the table plane."""

    method: str
    """``px-per-cm``, ``dpi``, ``marker`` or ``board``."""
    image_to_plane: np.ndarray
    """3x3 homography: image pixels -> table-plane cm."""
    px_per_cm: float
    """Scale at the reference point (the marker, the board's centre, or everywhere for a fixed scale)."""
    tilt_deg: float | None = None
    """How oblique the photo is, from marker shapes (``None`` for a fixed scale).

    A board gives the camera's tilt at its centre; a single marker the obliqueness seen at the
    marker, which also holds the viewing angle of an off-centre marker and so reads high.
    """
    detail: str = ""
    warnings: tuple[str, ...] = field(default=())

    def to_plane(self, points_px: np.ndarray) -> np.ndarray:
        """``(K, 2)`` image pixels -> ``(K, 2)`` plane cm."""
        points = np.asarray(points_px, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(points, self.image_to_plane).reshape(-1, 2)

    def describe(self) -> str:
        """What the CSV's calibration column says, e.g. ``board (4/4 markers)``."""
        return f"{self.method} ({self.detail})" if self.detail else self.method


def scale_homography(px_per_cm: float) -> np.ndarray:
    return np.diag([1.0 / px_per_cm, 1.0 / px_per_cm, 1.0])


def tilt_from_homography(plane_to_image: np.ndarray, at_plane: np.ndarray) -> float:
    """Tilt (degrees) of the plane against the image, from the homography's local stretch at a plane point.

    The 2x2 Jacobian of the plane->image map stretches one direction by ``cos(tilt)`` relative to
    the other (weak perspective), so ``tilt = arccos(s_min / s_max)`` of its singular values.
    """
    h = plane_to_image
    x, y = at_plane
    denominator = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / denominator
    v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / denominator
    jacobian = (
        np.array(
            [
                [h[0, 0] - u * h[2, 0], h[0, 1] - u * h[2, 1]],
                [h[1, 0] - v * h[2, 0], h[1, 1] - v * h[2, 1]],
            ]
        )
        / denominator
    )
    singular = np.linalg.svd(jacobian, compute_uv=False)
    return math.degrees(math.acos(min(1.0, singular[1] / singular[0])))


class Calibrator(Protocol):
    """Anything that calibrates one image (``None`` when the calibrator needs no pixels)."""

    needs_image: bool

    def calibrate(self, image_bgr: np.ndarray | None) -> Calibration: ...


@dataclass(frozen=True)
class FixedScale:
    """A known scale for the whole image: a scanner, a fixed rig, or the ``--px-per-cm`` fallback."""

    px_per_cm: float
    method: str = "px-per-cm"
    needs_image: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.px_per_cm) and self.px_per_cm > 0):
            raise InputError(f"the scale must be a positive number of pixels per cm, got {self.px_per_cm}")

    @classmethod
    def from_dpi(cls, dpi: float) -> FixedScale:
        if not (math.isfinite(dpi) and dpi > 0):
            raise InputError(f"--dpi must be positive, got {dpi}")
        return cls(dpi / CM_PER_INCH, "dpi")

    def calibrate(self, image_bgr: np.ndarray | None = None) -> Calibration:
        return Calibration(
            self.method, scale_homography(self.px_per_cm), self.px_per_cm, detail=f"{self.px_per_cm:.4g} px/cm"
        )


def _found(ids: np.ndarray) -> str:
    return f"found ids {', '.join(map(str, sorted(set(ids.tolist()))))}" if len(ids) else "no markers found"


@dataclass(frozen=True)
class SingleMarker:
    """Scale from one marker of known side; tilt estimated from its shape, warned about above ``max_tilt_deg``."""

    spec: MarkerSpec
    max_tilt_deg: float = 8.0
    needs_image: bool = True

    def calibrate(self, image_bgr: np.ndarray | None) -> Calibration:
        if image_bgr is None:
            raise CalibrationError("a marker calibration needs the image (give --images)")
        ids, corners = detect_markers(image_bgr, self.spec.dictionary)
        matches = np.flatnonzero(ids == self.spec.id)
        if len(matches) == 0:
            raise CalibrationError(f"no {self.spec.dictionary} marker id {self.spec.id} ({_found(ids)})")
        if len(matches) > 1:
            raise CalibrationError(f"marker id {self.spec.id} appears {len(matches)} times: ambiguous")
        quad = corners[matches[0]]
        sides = np.hypot(*(np.roll(quad, -1, axis=0) - quad).T)
        px_per_cm = float(sides.mean()) / self.spec.size_cm
        ideal = square_corners(0.0, 0.0, self.spec.size_cm).astype(np.float32)
        plane_to_image = cv2.getPerspectiveTransform(ideal, quad.astype(np.float32))
        centre = np.full(2, self.spec.size_cm / 2)
        tilt = tilt_from_homography(plane_to_image, centre)
        warnings = ()
        if tilt > self.max_tilt_deg:
            warnings = (
                f"photo is {tilt:.0f}° oblique: one marker gives scale only, so lengths are off "
                "by several percent; shoot square-on or use a marker board (--board)",
            )
        # Similarity about the marker: pixels -> cm with the marker's top-left corner as origin.
        image_to_plane = scale_homography(px_per_cm) @ np.array([[1, 0, -quad[0, 0]], [0, 1, -quad[0, 1]], [0, 0, 1.0]])
        return Calibration("marker", image_to_plane, px_per_cm, tilt, f"id {self.spec.id}", warnings)


@dataclass(frozen=True)
class MarkerBoard:
    """A full table-plane homography from every detected corner of a known board layout."""

    layout: BoardLayout
    min_markers: int = 2
    ransac_px: float = 3.0
    needs_image: bool = True

    def calibrate(self, image_bgr: np.ndarray | None) -> Calibration:
        if image_bgr is None:
            raise CalibrationError("a board calibration needs the image (give --images)")
        ids, corners = detect_markers(image_bgr, self.layout.dictionary)
        known = np.isin(ids, self.layout.ids)
        unique, counts = np.unique(ids[known], return_counts=True)
        usable, repeated = unique[counts == 1], unique[counts > 1]
        why = f"ids {', '.join(map(str, repeated))} appear more than once" if len(repeated) else ""
        if len(usable) < self.min_markers:
            raise CalibrationError(
                f"{len(usable)} of the board's {len(self.layout.markers)} markers found, need {self.min_markers} "
                f"({_found(ids)}{'; ' + why if why else ''})"
            )
        rows = [np.flatnonzero(ids == i)[0] for i in usable]
        image_points = corners[rows].reshape(-1, 2)
        plane_points = np.concatenate([self.layout.markers[int(i)] for i in usable])
        plane_to_image, inliers = cv2.findHomography(plane_points, image_points, cv2.RANSAC, self.ransac_px)
        if plane_to_image is None:
            raise CalibrationError("the board's markers do not fit one plane")
        inliers = inliers.reshape(-1).astype(bool)
        plane_to_image, _ = cv2.findHomography(plane_points[inliers], image_points[inliers], 0)
        projected = cv2.perspectiveTransform(plane_points[inliers].reshape(-1, 1, 2), plane_to_image).reshape(-1, 2)
        rms = float(np.sqrt(np.mean(np.sum((projected - image_points[inliers]) ** 2, axis=1))))
        min_x, min_y, max_x, max_y = self.layout.extent()
        centre = np.array([(min_x + max_x) / 2, (min_y + max_y) / 2])
        tilt = tilt_from_homography(plane_to_image, centre)
        unit_steps = np.array([[centre, centre + np.array([1.0, 0.0]), centre + np.array([0.0, 1.0])]])
        origin, right, down = cv2.perspectiveTransform(unit_steps, plane_to_image)[0]
        (ax, ay), (bx, by) = right - origin, down - origin
        px_per_cm = float(np.sqrt(abs(ax * by - ay * bx)))
        missing = sorted(set(self.layout.markers) - set(unique.tolist()))
        warnings = _board_warnings(missing, why, int(len(inliers) - inliers.sum()))
        detail = f"{len(usable)}/{len(self.layout.markers)} markers, {int(inliers.sum())} corners, rms {rms:.2f} px"
        return Calibration("board", np.linalg.inv(plane_to_image), px_per_cm, tilt, detail, warnings)


def _board_warnings(missing: list[int], repeated: str, outliers: int) -> tuple[str, ...]:
    """What a usable but imperfect board view should tell the user."""
    warnings = []
    if missing:
        warnings.append(f"board markers {', '.join(map(str, missing))} not found; fitted to the rest")
    if repeated:
        warnings.append(f"board {repeated}: ambiguous, left out")
    if outliers:
        warnings.append(f"{outliers} marker corners off the layout (a marker moved?) left out of the fit")
    return tuple(warnings)


@dataclass(frozen=True)
class WithFallback:
    """A marker or board calibration that falls back to a fixed scale when the image's markers fail."""

    primary: SingleMarker | MarkerBoard
    fallback: FixedScale
    needs_image: bool = True

    def calibrate(self, image_bgr: np.ndarray | None) -> Calibration:
        try:
            return self.primary.calibrate(image_bgr)
        except CalibrationError as exc:
            used = self.fallback.calibrate(None)
            warning = f"{exc}; fell back to {used.describe()}"
            return Calibration(used.method, used.image_to_plane, used.px_per_cm, None, f"fallback: {exc}", (warning,))
