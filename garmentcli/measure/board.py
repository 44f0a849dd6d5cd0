"""Marker boards: where each ArUco marker's corners lie on the table plane, in cm.

Layout JSON::

    {"dictionary": "4x4_50", "unit": "cm",
     "markers": [{"id": 0, "corners": [[x, y], [x, y], [x, y], [x, y]]}, ...]}

Corners are in ArUco order (top-left, top-right, bottom-right, bottom-left as printed), x to the
right and y down the table, origin at the table's top-left corner.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from garmentcli.errors import FormatError, InputError
from garmentcli.io.atomic import atomic_write


def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    """The OpenCV predefined dictionary for a name such as ``4x4_50`` or ``apriltag_36h11``."""
    wanted = "DICT_" + name.upper().removeprefix("DICT_")
    if not hasattr(cv2.aruco, wanted):
        known = sorted({a.removeprefix("DICT_").lower() for a in dir(cv2.aruco) if a.startswith("DICT_")})
        raise InputError(f"unknown ArUco dictionary {name!r} (known: {', '.join(known)})")
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, wanted))


@dataclass(frozen=True)
class MarkerSpec:
    """``aruco:DICT:ID:SIZE`` — one printed marker; SIZE is the black square's side as measured, in cm.

    The one spelling of a marker for ``measure --marker``, ``synth --marker`` and the boards.
    """

    dictionary: str = "4x4_50"
    id: int = 0
    size_cm: float = 8.0

    @classmethod
    def parse(cls, text: str) -> MarkerSpec:
        """Parse ``aruco:4x4_50:0:8.0`` (a trailing ``cm`` on the size is allowed: ``8cm``)."""
        parts = text.strip().split(":")
        if len(parts) != 4 or parts[0].lower() != "aruco":
            raise InputError(f"--marker {text!r}: expected aruco:DICT:ID:SIZE_CM, e.g. aruco:4x4_50:0:8.0")
        try:
            marker_id, size_cm = int(parts[2]), float(parts[3].lower().removesuffix("cm"))
        except ValueError as exc:
            raise InputError(f"--marker {text!r}: ID must be an integer and SIZE a number of cm") from exc
        if not (math.isfinite(size_cm) and size_cm > 0):
            raise InputError(f"--marker {text!r}: SIZE must be a positive number of cm")
        if not 0 <= marker_id < aruco_dictionary(parts[1]).bytesList.shape[0]:
            raise InputError(f"--marker {text!r}: id {marker_id} is not in ArUco dictionary {parts[1]}")
        return cls(parts[1].lower(), marker_id, size_cm)

    def __str__(self) -> str:
        return f"aruco:{self.dictionary}:{self.id}:{self.size_cm:g}"


def square_corners(x: float, y: float, side: float) -> np.ndarray:
    """ArUco-ordered corners of an axis-aligned square whose top-left corner is at ``(x, y)``."""
    return np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side]], dtype=np.float64)


@dataclass
class BoardLayout:
    """Marker ids and their corner positions on the table plane (cm)."""

    dictionary: str = "4x4_50"
    markers: dict[int, np.ndarray] = field(default_factory=dict)
    """Marker id -> ``(4, 2)`` corners in cm, ArUco order."""

    def __post_init__(self) -> None:
        aruco_dictionary(self.dictionary)
        self.markers = {int(k): np.asarray(v, dtype=np.float64).reshape(4, 2) for k, v in self.markers.items()}

    @classmethod
    def table_corners(
        cls,
        table_w_cm: float,
        table_h_cm: float,
        marker_cm: float,
        dictionary: str = "4x4_50",
        first_id: int = 0,
        margin_cm: float = 1.0,
    ) -> BoardLayout:
        """Four markers, ids ``first_id``..+3, in the table's corners (clockwise from top-left), ``margin_cm`` in."""
        if min(table_w_cm, table_h_cm) < 2 * (marker_cm + margin_cm):
            raise InputError(f"a {table_w_cm:g} x {table_h_cm:g} cm table cannot hold four {marker_cm:g} cm markers")
        near, far_x, far_y = margin_cm, table_w_cm - margin_cm - marker_cm, table_h_cm - margin_cm - marker_cm
        origins = [(near, near), (far_x, near), (far_x, far_y), (near, far_y)]
        return cls(dictionary, {first_id + i: square_corners(x, y, marker_cm) for i, (x, y) in enumerate(origins)})

    @classmethod
    def grid(
        cls,
        cols: int,
        rows: int,
        marker_cm: float,
        gap_cm: float,
        dictionary: str = "4x4_50",
        first_id: int = 0,
    ) -> BoardLayout:
        """A printed sheet: ``cols`` x ``rows`` markers, row by row, ``gap_cm`` apart, starting at (0, 0)."""
        step = marker_cm + gap_cm
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        markers = {first_id + r * cols + c: square_corners(c * step, r * step, marker_cm) for r, c in cells}
        return cls(dictionary, markers)

    @property
    def ids(self) -> np.ndarray:
        return np.array(sorted(self.markers), dtype=np.int64)

    def extent(self) -> tuple[float, float, float, float]:
        """``(min_x, min_y, max_x, max_y)`` of all marker corners, in cm."""
        corners = np.concatenate(list(self.markers.values()))
        return (*corners.min(axis=0), *corners.max(axis=0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dictionary": self.dictionary,
            "unit": "cm",
            "markers": [{"id": i, "corners": self.markers[i].round(4).tolist()} for i in sorted(self.markers)],
        }

    def to_json(self) -> str:
        """The layout JSON, one marker per line."""
        document = self.to_dict()
        markers = ",\n  ".join(json.dumps(m) for m in document.pop("markers"))
        return json.dumps(document)[:-1] + f', "markers": [\n  {markers}\n]}}'

    def save(self, path: str | Path) -> None:
        with atomic_write(path, "w") as handle:
            handle.write(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "board") -> BoardLayout:
        """Validate a layout document; errors are one line naming the file and marker."""
        if not isinstance(raw, dict) or not isinstance(raw.get("markers"), list) or not raw["markers"]:
            raise FormatError(f"{source}: expected a mapping with a non-empty 'markers' list")
        if raw.get("unit", "cm") != "cm":
            raise FormatError(f"{source}: unit must be cm, got {raw['unit']!r}")
        markers: dict[int, np.ndarray] = {}
        for number, entry in enumerate(raw["markers"], start=1):
            try:
                marker_id = int(entry["id"])
                corners = np.asarray(entry["corners"], dtype=np.float64)
            except (TypeError, KeyError, ValueError) as exc:
                raise FormatError(f"{source}: marker {number}: needs an integer id and 4 [x, y] corners") from exc
            if corners.shape != (4, 2) or not np.all(np.isfinite(corners)):
                raise FormatError(f"{source}: marker {number} (id {marker_id}): corners must be 4 finite [x, y] pairs")
            if marker_id in markers:
                raise FormatError(f"{source}: marker id {marker_id} appears twice")
            markers[marker_id] = corners
        try:
            return cls(str(raw.get("dictionary", "4x4_50")), markers)
        except InputError as exc:
            raise FormatError(f"{source}: {exc}") from exc

    @classmethod
    def from_json(cls, path: str | Path) -> BoardLayout:
        path = Path(path)
        try:
            raw = json.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read board layout ({exc.strerror or exc})") from exc
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from exc
        return cls.from_dict(raw, str(path))


def render_board(layout: BoardLayout, px_per_cm: float, margin_cm: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The board drawn at ``px_per_cm`` on white: a grey uint8 image and its plane(cm)->pixel homography.

    The image covers the markers' extent plus ``margin_cm`` on every side (the white quiet zone
    ArUco detection needs). Pixel coordinates follow OpenCV: pixel centres at integers, so the
    image's top-left edge is at (-0.5, -0.5).
    """
    min_x, min_y, max_x, max_y = layout.extent()
    shift_x, shift_y = (margin_cm - min_x) * px_per_cm - 0.5, (margin_cm - min_y) * px_per_cm - 0.5
    plane_to_pixels = np.array([[px_per_cm, 0, shift_x], [0, px_per_cm, shift_y], [0, 0, 1]])
    width = round((max_x - min_x + 2 * margin_cm) * px_per_cm)
    height = round((max_y - min_y + 2 * margin_cm) * px_per_cm)
    canvas = np.full((height, width), 255, dtype=np.uint8)
    dictionary = aruco_dictionary(layout.dictionary)
    for marker_id, corners in layout.markers.items():
        pixels = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), plane_to_pixels).reshape(4, 2)
        side = max(8, round(float(np.hypot(*(pixels[1] - pixels[0])))))
        try:
            marker = cv2.aruco.generateImageMarker(dictionary, marker_id, side)
        except cv2.error as exc:
            raise InputError(f"marker id {marker_id} is not in ArUco dictionary {layout.dictionary}") from exc
        source = square_corners(-0.5, -0.5, side).astype(np.float32)
        warp = cv2.getPerspectiveTransform(source, pixels.astype(np.float32))
        mask = cv2.warpPerspective(np.ones_like(marker), warp, (width, height), flags=cv2.INTER_NEAREST)
        drawn = cv2.warpPerspective(marker, warp, (width, height), flags=cv2.INTER_AREA)
        canvas[mask > 0] = drawn[mask > 0]
    return canvas, plane_to_pixels
