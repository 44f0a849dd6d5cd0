"""The ground truth of a rendered scene: visibility per landmark, visible-region polygons, boxes,
DeepFashion2 attributes and the measurements of every garment."""

from __future__ import annotations

import cv2
import numpy as np

from garmentcli.measure.definitions import measure_points
from garmentcli.schema.records import Garment
from garmentcli.schema.visibility import OCCLUDED, VISIBLE
from garmentcli.schema.visibility import UNLABELLED as OUTSIDE
from garmentcli.synth.charts import GarmentSpec
from garmentcli.synth.render import PlacedGarment


def _inside(polygon: np.ndarray, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Which points lie inside ``polygon`` by more than ``margin`` pixels."""
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) > margin for x, y in points], bool)


def _self_hidden(garment: PlacedGarment) -> np.ndarray:
    """Landmarks under a later piece of the same garment (the body under a folded sleeve, or the reverse)."""
    parts = garment.parts_px
    names = [name for _, _, name in parts]
    body = names.index("body") if "body" in names else 0
    owner = {j: k for k, (_, on, _) in enumerate(parts) for j in on}
    hidden = np.zeros(len(garment.landmarks_px), dtype=bool)
    for j, point in enumerate(garment.landmarks_px):
        for outline, on, _ in parts[owner.get(j, body) + 1 :]:
            if j not in on and _inside(outline, point[None], 0.5)[0]:
                hidden[j] = True
    return hidden


def _visibility(
    garment: PlacedGarment, occluders: list[np.ndarray], size: int, holed: list[PlacedGarment] = ()
) -> np.ndarray:
    """Codes of a garment's landmarks: outside the frame, under an occluder (or a later garment ``holed``
    with a hole, unless the point shows through the hole), or visible."""
    points = garment.landmarks_px
    inside = np.all((points >= -0.5) & (points < size - 0.5), axis=1)
    hidden = _self_hidden(garment)
    hidden[list(garment.behind_body)] = True
    for polygon in occluders:
        hidden |= _inside(polygon, points)
    for other in holed:
        covered = np.zeros(len(points), bool)
        for outline, _, _ in other.parts_px:
            covered |= _inside(outline, points)
        hidden |= covered & ~_inside(other.hole_px, points, 0.5)
    return np.where(~inside, OUTSIDE, np.where(hidden, OCCLUDED, VISIBLE))


def _union_area(outlines: list[np.ndarray], size: int | None = None) -> int:
    """Pixels covered by the union of ``outlines``: all of them, or those inside a ``size`` x ``size`` image."""
    points = np.concatenate(outlines)
    lo = np.floor(points.min(axis=0)) - 1 if size is None else np.zeros(2)
    width, height = (np.ceil(points.max(axis=0) - lo).astype(int) + 2).tolist() if size is None else (size, size)
    mask = np.zeros((height, width), np.uint8)
    for outline in outlines:
        cv2.fillPoly(mask, [np.round((outline - lo) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return int(mask.sum())


def _bridged(outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """One polygon for a region with holes: each hole is joined to the outline by a zero-width cut at their
    closest points (COCO polygons cannot hold holes; filled by pycocotools or OpenCV, the holes stay empty)."""
    ring = outer
    for hole in holes:
        gaps = np.linalg.norm(ring[:, None, :] - hole[None, :, :], axis=2)
        i, j = np.unravel_index(int(np.argmin(gaps)), gaps.shape)
        loop = np.concatenate([hole[j:], hole[: j + 1]])
        ring = np.concatenate([ring[: i + 1], loop, ring[i:]])
    return ring


def _segmentation(label: np.ndarray, value: int) -> tuple[list[list[float]], int]:
    """Polygons of the pixels labelled ``value``; background enclosed by the garment (a gap between a sleeve and
    the body) is cut out of them."""
    visible = (label == value).astype(np.uint8)
    contours, hierarchy = cv2.findContours(visible, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    simplified = [cv2.approxPolyDP(c, 0.7, True).reshape(-1, 2) for c in contours]
    parents = [int(p) for p in hierarchy[0][:, 3]] if contours else []
    polygons = []
    for k, outer in enumerate(simplified):
        if parents[k] >= 0 or len(outer) < 3:  # a hole, or a sliver
            continue
        holes = [h for h, parent in zip(simplified, parents, strict=True) if parent == k and len(h) >= 3]
        polygons.append(_bridged(outer, holes).reshape(-1).astype(float).tolist())
    return polygons, int(visible.sum())


def _attributes(
    box_area: float, image_area: float, visible: int, inside: int, total: float, viewpoint: int = 1
) -> dict[str, int]:
    """DeepFashion2's scale / occlusion / zoom_in / viewpoint codes from areas (viewpoint 1: not worn, 2: worn,
    frontal)."""
    share = box_area / image_area
    seen = visible / max(inside, 1)
    framed = inside / max(total, 1.0)
    return {
        "style": 0,
        "scale": 1 if share < 0.1 else 2 if share < 0.35 else 3,
        "occlusion": 1 if seen >= 0.9 else 2 if seen >= 0.6 else 3,
        "zoom_in": 1 if framed >= 0.98 else 2 if framed >= 0.8 else 3,
        "viewpoint": viewpoint,
    }


def _fill(label: np.ndarray, polygon: np.ndarray, value: int) -> None:
    cv2.fillPoly(label, [np.round(polygon * 16).astype(np.int32)], value, cv2.LINE_8, 4)


def annotate(
    sample_garments: list[PlacedGarment],
    specs: list[GarmentSpec],
    marker_squares: list[np.ndarray],
    size: int,
    covers: list[tuple[int, np.ndarray]] = (),
    viewpoint: int = 1,
) -> list[Garment]:
    """The ground-truth garments of a ``size`` x ``size`` picture, given its garments in drawing order and the
    paper squares (px) of the markers drawn over them.

    ``covers`` are other things drawn over garments (a worn figure's arms and hands, hanger clips):
    ``(after, polygon_px)`` is drawn after the first ``after`` garments, so it hides those. A garment with
    a ``hole_px`` (worn: its neck opening or open front) hides nothing through its hole.
    ``viewpoint`` is DeepFashion2's code written for every garment (1 not worn, 2 frontal).
    """
    label = np.zeros((size, size), np.int32)
    for value, garment in enumerate(sample_garments, start=1):
        if garment.hole_px is None:
            for outline, _, _ in garment.parts_px:
                _fill(label, outline, value)
        else:
            mine = np.zeros((size, size), np.uint8)
            for outline, _, _ in garment.parts_px:
                _fill(mine, outline, 1)
            _fill(mine, garment.hole_px, 0)
            label[mine > 0] = value
        for after, polygon in covers:
            if after == value:
                _fill(label, polygon, -1)
    for square in marker_squares:
        _fill(label, square, -1)
    out = []
    for i, (garment, spec) in enumerate(zip(sample_garments, specs, strict=True)):
        later = sample_garments[i + 1 :]
        occluders = [outline for g in later if g.hole_px is None for outline, _, _ in g.parts_px] + marker_squares
        occluders += [polygon for after, polygon in covers if after > i]
        flags = _visibility(garment, occluders, size, [g for g in later if g.hole_px is not None])
        landmarks = np.column_stack([garment.landmarks_px, flags]).astype(np.float64)
        landmarks[flags == OUTSIDE] = 0.0
        polygons, visible = _segmentation(label, i + 1)
        outlines = [outline for outline, _, _ in garment.parts_px]
        inside, total = _union_area(outlines, size), _union_area(outlines)
        lo = np.clip(garment.silhouette_px.min(axis=0), 0, size - 1)
        hi = np.clip(garment.silhouette_px.max(axis=0), 0, size - 1)
        bbox = np.concatenate([lo, hi - lo])
        extra = {
            "landmarks_cm": np.round(garment.landmarks_cm, 4).tolist(),
            "measurements_cm": {
                k: (None if v is None else round(v, 3))
                for k, v in measure_points(garment.category_id, garment.landmarks_cm).items()
            },
            "size_chart_cm": spec.chart_cm(),
        }
        out.append(
            Garment(
                garment.category_id,
                np.round(bbox, 2),
                np.round(landmarks, 3),
                segmentation=polygons,
                attributes=_attributes(float(bbox[2] * bbox[3]), size * size, visible, inside, total, viewpoint),
                extra=extra,
            )
        )
    return out
