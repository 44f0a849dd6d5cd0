"""Construction details of a garment as strokes in its own frame: bands, stitching, plackets, buttons.

Strokes are built from the garment's named points and later moved by the same warp and camera
as the outline. Bands are drawn centred on an outline edge and clipped by the garment mask, so
half the band shows on the fabric and the silhouette itself is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from garmentcli.schema.layout import DF2
from garmentcli.synth.curves import smooth_chain
from garmentcli.synth.geometry import GarmentShape, templates


@dataclass(frozen=True)
class Stroke:
    """A polyline (cm, garment frame) drawn with a width (cm) in one of the look's roles."""

    points: np.ndarray
    width_cm: float
    role: str
    """``trim`` (bands in the trim colour), ``stitch`` (thin dashed seam), ``zip``, ``button`` (dots)."""


def _chain(points: dict[str, np.ndarray], names: list[str], shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    nodes = np.array([points[n] for n in names]) + np.asarray(shift)
    corners = np.zeros(len(nodes), dtype=bool)
    return smooth_chain(nodes, corners, closed=False, step=0.4)


def _sides(names: list[str]) -> list[list[str]]:
    return [[n[:-2] + suffix if n.endswith("_l") else n for n in names] for suffix in ("_l", "_r")]


def _parallel(a: np.ndarray, b: np.ndarray, toward: np.ndarray, distance: float) -> np.ndarray:
    """The segment ``a``-``b`` moved ``distance`` cm sideways, to the side of ``toward`` (a hem's stitching)."""
    along = (b - a) / max(np.hypot(*(b - a)), 1e-9)
    normal = np.array([along[1], -along[0]])
    if normal @ (toward - a) < 0:
        normal = -normal
    return np.array([a, b]) + normal * distance


def _rectangle(centre: np.ndarray, width: float, height: float) -> np.ndarray:
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=np.float64)
    return centre + corners * [width / 2, height / 2]


def _top_strokes(shape: GarmentShape, options: dict, rng: np.random.Generator) -> list[Stroke]:
    p = shape.points
    strokes = [Stroke(_chain(p, ["neck_l", "neck_back", "neck_r"]), rng.uniform(1.2, 3.0), "trim")]
    if "neck_front" in p:
        strokes.append(
            Stroke(
                _chain(p, ["neck_l", "neckline_l", "neck_front", "neckline_r", "neck_r"]), rng.uniform(1.2, 3.5), "trim"
            )
        )
    hem = ["hem_l", "hem_center", "hem_r"] if "hem_center" in p else None
    if hem:
        strokes.append(Stroke(_chain(p, hem, (0.0, -rng.uniform(1.2, 2.5))), 0.12, "stitch"))
    if options["sleeve"] != "none":
        band = rng.uniform(1.0, 3.5) if rng.random() < 0.6 else 0.0
        for cuff, suffix in zip(_sides(["cuff_outer_l", "cuff_inner_l"]), ("_l", "_r"), strict=True):
            if shape.folds.get(suffix) == "back":
                continue
            if band:
                strokes.append(Stroke(_chain(p, cuff), band, "trim"))
            else:
                hem = _parallel(p[cuff[0]], p[cuff[1]], p["shoulder" + suffix], rng.uniform(1.0, 2.5))
                strokes.append(Stroke(_chain(dict(zip("ab", hem, strict=True)), ["a", "b"]), 0.12, "stitch"))
    if options["opening"]:
        closed = np.allclose(p["hem_open_l"], p["hem_open_r"])
        for edge in _sides(["neckline_open_l", "open_upper_l", "open_lower_l", "hem_open_l"]):
            strokes.append(Stroke(_chain(p, edge), rng.uniform(1.0, 3.0), "trim"))
        if closed:
            centre = _chain(p, ["neckline_open_l", "open_upper_l", "open_lower_l", "hem_open_l"])
            if rng.random() < 0.5:
                strokes.append(Stroke(centre, 0.6, "zip"))
            else:
                count = int(rng.integers(4, 8))
                picks = np.linspace(0.05, 0.92, count) * (len(centre) - 1)
                strokes.append(Stroke(centre[picks.astype(int)], rng.uniform(1.0, 1.8), "button"))
        if rng.random() < 0.5:
            size = rng.uniform(11, 17)
            for suffix in ("_l", "_r"):
                middle = (p["hem" + suffix] + p["hem_open" + suffix]) / 2 + np.array([0.0, -size * 0.8 - 4])
                strokes.append(Stroke(_rectangle(middle, size, size * 1.05), 0.12, "stitch"))
    return strokes


def _bottom_strokes(shape: GarmentShape, options: dict, rng: np.random.Generator) -> list[Stroke]:
    p = shape.points
    strokes = [Stroke(_chain(p, ["waist_l", "waist_center", "waist_r"]), rng.uniform(5.0, 9.0), "trim")]
    if options["family"] == "skirt":
        strokes.append(
            Stroke(_chain(p, ["hem_l", "hem_center", "hem_r"], (0.0, -rng.uniform(1.5, 3.0))), 0.12, "stitch")
        )
        return strokes
    rise = p["crotch"][1] - p["waist_center"][1]
    fly = np.array([[2.5, p["waist_center"][1] + 4], [2.5, p["waist_center"][1] + 0.6 * rise], [0.3, 0.75 * rise]])
    strokes.append(Stroke(smooth_chain(fly, np.zeros(3, bool), closed=False, step=0.4), 0.12, "stitch"))
    for leg in _sides(["leg_outer_l", "leg_inner_l"]):
        ends = np.array([p[n] for n in leg])
        along = ends[1] - ends[0]
        up = np.array([along[1], -along[0]]) / max(np.hypot(*along), 1e-9)
        up = up if up[1] < 0 else -up
        strokes.append(Stroke(ends + up * rng.uniform(1.5, 3.0), 0.12, "stitch"))
    if rng.random() < 0.7:  # front pockets: a curve from the waistband down to the side seam
        for suffix in ("_l", "_r"):
            waist, hip = p["waist" + suffix], p["hip" + suffix]
            inward = np.array([-np.sign(waist[0]) * rng.uniform(6, 10), 0.0])
            curve = np.array([waist + inward, (waist + inward + hip) / 2 + inward * 0.15, hip + np.array([0.0, -2.0])])
            strokes.append(Stroke(smooth_chain(curve, np.zeros(3, bool), closed=False, step=0.4), 0.12, "stitch"))
    return strokes


def garment_strokes(shape: GarmentShape, rng: np.random.Generator) -> list[Stroke]:
    """The detail strokes of a garment, chosen from its family and a little randomness."""
    options = templates()["categories"][DF2.category(shape.category_id).name]
    if options["family"] == "top":
        return _top_strokes(shape, options, rng)
    return _bottom_strokes(shape, options, rng)
