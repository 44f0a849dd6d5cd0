"""Laying garments out on the table: one garment placed and turned, several spread with partial
overlaps, a marker beside them, or the whole group centred on a marked board."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from garmentcli.measure.board import BoardLayout
from garmentcli.synth.charts import GarmentSpec, sample_spec
from garmentcli.synth.deform import Warp, random_warp
from garmentcli.synth.geometry import GarmentShape, build_shape
from garmentcli.synth.markers import MarkerSpec
from garmentcli.synth.presets import scene_params


@dataclass
class LaidGarment:
    """A garment on the table: what it is, its flat shape, how it was laid, and its outline there (cm)."""

    spec: GarmentSpec
    shape: GarmentShape
    warp: Warp
    table_outline: np.ndarray

    @property
    def box(self) -> np.ndarray:
        """``[x0, y0, x1, y1]`` on the table (cm)."""
        return np.concatenate([self.table_outline.min(axis=0), self.table_outline.max(axis=0)])

    def moved(self, delta: np.ndarray) -> LaidGarment:
        """The same garment shifted by ``delta`` cm."""
        warp = self.warp.placed(self.warp.rotation_deg, self.warp.translation + delta)
        return LaidGarment(self.spec, self.shape, warp, self.table_outline + delta)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two boxes over the smaller one's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))


def lay_garment(
    category_id: int,
    rng: np.random.Generator,
    strength: tuple[float, float] | None = None,
    spec: GarmentSpec | None = None,
    turn: tuple[float, float] | None = None,
) -> LaidGarment:
    """A garment of the category (or of ``spec``), deformed (``strength``: range of the warp's strength),
    turned (``turn``: the turn's standard deviation in degrees and the chance of any angle) and centred."""
    params = scene_params()
    spec = spec or sample_spec(category_id, rng)
    shape = build_shape(spec, rng)
    warp = random_warp(shape.silhouette, rng, rng.uniform(*(strength or params["deformation_strength"])))
    sd, any_angle = turn or (params["rotation_deg_sd"], params["rotation_any_probability"])
    rotation = rng.uniform(0, 360) if rng.random() < any_angle else rng.normal(0, sd)
    warp = warp.placed(float(rotation), np.zeros(2))
    outline = warp.apply(shape.silhouette)
    centre = (outline.min(axis=0) + outline.max(axis=0)) / 2
    return LaidGarment(spec, shape, warp, outline).moved(-centre)


def arrange(laid: list[LaidGarment], rng: np.random.Generator, limit: float | None = None) -> list[LaidGarment]:
    """Spread garments around the first so they overlap partly (box overlap at most ``limit``, by default the
    scene's ``overlap_max``)."""
    limit = scene_params()["overlap_max"] if limit is None else limit
    placed = [laid[0]]
    for garment in laid[1:]:
        best, best_score = None, np.inf
        radius = np.ptp(garment.table_outline, axis=0).max() / 2
        for _ in range(16):
            anchor = placed[int(rng.integers(len(placed)))]
            reach = radius + np.ptp(anchor.table_outline, axis=0).max() / 2
            angle = rng.uniform(0, 2 * np.pi)
            centre = (anchor.box[:2] + anchor.box[2:]) / 2
            candidate = garment.moved(
                centre + rng.uniform(0.45, 0.9) * reach * np.array([np.cos(angle), np.sin(angle)])
            )
            score = max(_overlap(candidate.box, other.box) for other in placed)
            if score < best_score:
                best, best_score = candidate, score
            if score <= limit:
                break
        placed.append(best)
    return placed


def union_box(boxes: list[np.ndarray]) -> np.ndarray:
    stacked = np.array(boxes)
    return np.concatenate([stacked[:, :2].min(axis=0), stacked[:, 2:].max(axis=0)])


def place_marker(spec: MarkerSpec, garments_box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Corners (cm) of one marker lying beside the garments, at a random side and turn."""
    params = scene_params()
    half = spec.size_cm / 2 * (1 + 2 * params["marker_quiet_cells"] / 6) * np.sqrt(2)
    gap = rng.uniform(*params["marker_gap_cm"]) + half
    side = int(rng.integers(4))
    lo, hi = garments_box[:2], garments_box[2:]
    t = rng.uniform(0.1, 0.9)
    centre = {
        0: [lo[0] - gap, lo[1] + t * (hi[1] - lo[1])],
        1: [hi[0] + gap, lo[1] + t * (hi[1] - lo[1])],
        2: [lo[0] + t * (hi[0] - lo[0]), lo[1] - gap],
        3: [lo[0] + t * (hi[0] - lo[0]), hi[1] + gap],
    }[side]
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    square = (np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) - 0.5) * spec.size_cm
    return square @ rotation.T + np.asarray(centre)


def fit_board(laid: list[LaidGarment], board: BoardLayout, rng: np.random.Generator) -> list[LaidGarment]:
    """Centre the garments on the board's table, dropping the last ones until none covers a marker."""
    table = np.asarray(board.extent())
    centre = (table[:2] + table[2:]) / 2
    keep = list(laid)
    while True:
        group = union_box([g.box for g in keep])
        jitter = rng.uniform(-3, 3, 2)
        shifted = [g.moved(centre - (group[:2] + group[2:]) / 2 + jitter) for g in keep]
        clashes = any(
            _overlap(g.box, np.concatenate([c.min(axis=0) - 1, c.max(axis=0) + 1])) > 0
            for g in shifted
            for c in board.markers.values()
        )
        if not clashes or len(keep) == 1:
            return shifted
        keep = keep[:-1]
