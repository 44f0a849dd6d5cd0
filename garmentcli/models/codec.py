"""One source of truth for what the network's heads mean: training targets in, garments out.

:meth:`TargetCodec.encode` renders one image's ground truth (already in network-input pixels)
into CenterNet targets; :meth:`TargetCodec.decode` turns head outputs back into garments with
the four DeepMark++ post-processing techniques, each switchable through :class:`DecodeOptions`.

Conventions (shared with the network): every head lives on the stride-4 grid; a garment's centre
``c = box centre / 4`` is drawn as a Gaussian peak at the integer cell ``floor(c)`` of its
category's heatmap, with ``center_offset = c - floor(c)``, ``box_size = (w, h) / 4`` and, per
semantic group ``g`` of its category, ``landmark_regression[2g:2g+2] = landmark / 4 - floor(c)``
read at that cell. Each labelled landmark ``p`` is also a Gaussian peak at ``floor(p / 4)`` of its
group's heatmap with ``landmark_offset[2g:2g+2] = p / 4 - floor(p / 4)`` there.
"""

from __future__ import annotations

import cv2
import numpy as np

from garmentcli.models.config import OUTPUT_STRIDE, ModelConfig
from garmentcli.schema.layout import DF2, mirror_name
from garmentcli.schema.records import Garment
from garmentcli.settings import Fraction, PositiveFloat, PositiveInt, settings_class

GROUP_FLIP = np.array([DF2.semantic_groups.index(mirror_name(name)) for name in DF2.semantic_groups])
"""``GROUP_FLIP[g]`` is the semantic group that ``g`` becomes under a horizontal flip."""

CATEGORY_GROUPS = {c.id: DF2.group_of[c.slice] for c in DF2.categories}
"""The semantic group of each landmark of each category, in dataset order."""


@settings_class
class DecodeOptions:
    """Decoding settings; ``None`` switches a DeepMark++ technique off.

    Defaults are the published tuned values except ``blend_gamma``, which validation switched off.
    Every field is checked when the options are made: thresholds and weights from 0 to 1, counts and
    sigmas positive (a one-line :class:`~garmentcli.errors.SchemaError` otherwise).
    """

    score_thr: Fraction = 0.2
    max_dets: PositiveInt = 20
    max_candidates: PositiveInt = 100
    min_center_score: Fraction = 0.05
    """Centre peaks below this are never decoded (they cannot be garments worth reporting)."""
    box_rescore_alpha: Fraction | None = 0.8
    """(1) final score = alpha * centre score + (1 - alpha) * mean landmark score."""
    center_sigma: PositiveFloat | None = 0.45
    """(2) 3x3 Gaussian smoothing of the centre heatmaps before peak picking."""
    landmark_sigma: PositiveFloat | None = 0.90
    """(2) 3x3 Gaussian smoothing of the landmark heatmaps before the maximum is taken."""
    blend_gamma: Fraction | None = None
    """(3) landmark = gamma * heatmap-refined + (1 - gamma) * regressed; off: the refined position alone.
    Off by default: the published 0.75 pulls our model's landmarks towards the mean shape (a wide hem
    came out 1.3 cm short); on synthetic validation images off gave keypoint AP 0.734 against 0.713."""
    rescore_divisor: PositiveFloat | None = 9.0
    """(4) weight the landmark heatmap by a Gaussian of sigma min(w, h) / divisor around the regressed
    position before the maximum; off: the maximum inside the box."""
    box_landmark_weight: Fraction | None = 0.75
    """Not in DeepMark++: box = weight * the decoded landmarks' extent + (1 - weight) * the regressed box;
    off: the regressed box alone. Chosen on synthetic validation images, where it raised box AP by 0.04."""

    @classmethod
    def plain(cls, **overrides: float | int | None) -> DecodeOptions:
        """All four techniques (and the landmark-extent box) off: CenterNet decoding, with ``overrides`` applied."""
        off = {
            "box_rescore_alpha": None,
            "center_sigma": None,
            "landmark_sigma": None,
            "blend_gamma": None,
            "rescore_divisor": None,
            "box_landmark_weight": None,
        }
        return cls(**{**off, **overrides})


def gaussian_radius(height: np.ndarray, width: np.ndarray, min_overlap: float = 0.7) -> np.ndarray:
    """CenterNet's radius: the largest centre shift that keeps IoU >= ``min_overlap`` (vectorised)."""
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2, c2 = 4.0, 2 * (height + width), (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (height + width), (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return np.minimum(np.minimum(r1, r2), r3)


def splat(shape: tuple[int, int, int], channels: np.ndarray, cells: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Heatmaps ``(C, h, w)``: a truncated Gaussian (sigma = diameter / 6) at each cell in its channel, max-merged."""
    heat = np.zeros(shape, np.float32)
    if len(cells) == 0:
        return heat
    ys, xs = np.arange(shape[1]), np.arange(shape[2])
    dx = xs[None, :] - cells[:, 0:1]
    dy = ys[None, :] - cells[:, 1:2]
    sigma = (2 * radii + 1) / 6.0
    gx = np.where(np.abs(dx) <= radii[:, None], np.exp(-(dx**2) / (2 * sigma[:, None] ** 2)), 0.0)
    gy = np.where(np.abs(dy) <= radii[:, None], np.exp(-(dy**2) / (2 * sigma[:, None] ** 2)), 0.0)
    blobs = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    order = np.argsort(channels, kind="stable")
    unique, starts = np.unique(channels[order], return_index=True)
    heat[unique] = np.maximum.reduceat(blobs[order], starts, axis=0)
    return heat


def _smooth3(maps: np.ndarray, sigma: float) -> np.ndarray:
    """3x3 Gaussian blur of each map (the last two axes), reflect-101 border: OpenCV's, one map at a time (ten times
    faster than the same filter in numpy on 77 landmark maps)."""
    flat = np.ascontiguousarray(maps, dtype=np.float32).reshape(-1, *maps.shape[-2:])
    out = np.empty_like(flat)
    for index, single in enumerate(flat):
        out[index] = cv2.GaussianBlur(single, (3, 3), sigma, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(maps.shape)


def _local_maxima(maps: np.ndarray) -> np.ndarray:
    """``maps`` where a cell equals the maximum of its 3x3 neighbourhood, 0 elsewhere (CenterNet's max-pool NMS)."""
    pad = [(0, 0)] * (maps.ndim - 2)
    rows = np.pad(maps, [*pad, (1, 1), (0, 0)], mode="constant", constant_values=-np.inf)
    row_max = np.maximum(np.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])
    cols = np.pad(row_max, [*pad, (0, 0), (1, 1)], mode="constant", constant_values=-np.inf)
    pooled = np.maximum(np.maximum(cols[..., :-2], cols[..., 1:-1]), cols[..., 2:])
    return np.where(maps == pooled, maps, 0.0)


def _window_argmax(
    heat: np.ndarray, group: np.ndarray, centre: np.ndarray, sigma: np.ndarray | None, box: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best cell of ``heat[group[p]]`` near ``centre[p]`` for every pair ``p``: ``(x, y, heat there)``.

    With ``sigma`` the heat is weighted by a Gaussian around ``centre`` (cells by their middles) and
    searched within 3 sigma; with ``box`` (``x0, y0, x1, y1`` per pair) the unweighted maximum inside
    the box is taken. Only a window of cells is gathered per pair, which keeps decoding cheap.
    """
    height, width = heat.shape[-2:]
    reach = 3 * sigma if sigma is not None else np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]) / 2 + 1
    radius = int(np.clip(np.ceil(reach.max()), 1, max(height, width)))
    steps = np.arange(-radius, radius + 1)
    base = np.floor(centre).astype(np.int64)
    ix = np.clip(base[:, 0:1] + steps, 0, width - 1)
    iy = np.clip(base[:, 1:2] + steps, 0, height - 1)
    patch = heat[group[:, None, None], iy[:, :, None], ix[:, None, :]]
    if sigma is not None:
        two_var = 2 * sigma[:, None] ** 2
        gx = np.exp(-((ix + 0.5 - centre[:, 0:1]) ** 2) / two_var)
        gy = np.exp(-((iy + 0.5 - centre[:, 1:2]) ** 2) / two_var)
        weighted = patch * (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    else:
        in_x = (ix >= np.floor(box[:, 0:1])) & (ix <= box[:, 2:3])
        in_y = (iy >= np.floor(box[:, 1:2])) & (iy <= box[:, 3:4])
        weighted = np.where(in_y[:, :, None] & in_x[:, None, :], patch, -1.0)
    best = weighted.reshape(len(group), -1).argmax(1)
    row, col = np.divmod(best, len(steps))
    pairs = np.arange(len(group))
    return ix[pairs, col], iy[pairs, row], patch[pairs, row, col]


def merge_flip(outputs: dict[str, np.ndarray], flipped: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Average head outputs with those of the horizontally flipped input (flip test-time augmentation).

    Heatmaps, sizes and landmark displacements are flipped back (groups swapped with their mirror,
    x displacements negated) and averaged; sub-pixel offsets are taken from the unflipped pass.
    """
    merged = dict(outputs)
    back = {name: value[..., ::-1] for name, value in flipped.items()}
    merged["center_heatmap"] = (outputs["center_heatmap"] + back["center_heatmap"]) / 2
    merged["box_size"] = (outputs["box_size"] + back["box_size"]) / 2
    merged["landmark_heatmap"] = (outputs["landmark_heatmap"] + back["landmark_heatmap"][:, GROUP_FLIP]) / 2
    batch, _, height, width = outputs["landmark_regression"].shape
    regression = back["landmark_regression"].reshape(batch, -1, 2, height, width)[:, GROUP_FLIP].copy()
    regression[:, :, 0] *= -1
    merged["landmark_regression"] = (outputs["landmark_regression"] + regression.reshape(batch, -1, height, width)) / 2
    return merged


class TargetCodec:
    """Encode ground truth into training targets and decode head outputs into garments (input pixels)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig()

    def encode(self, garments: list[Garment], input_hw: tuple[int, int]) -> dict[str, np.ndarray]:
        """Training targets for one image whose garments are in input-pixel coordinates.

        Returns dense heatmaps ``center_heatmap (C, h, w)`` and ``landmark_heatmap (G, h, w)`` and, per
        object slot ``m < max_objects``: ``indices (M,)`` (flat cell of the centre), ``object_mask (M,)``,
        ``center_offset (M, 2)``, ``box_size (M, 2)``, ``landmark_regression (M, G, 2)``, ``landmark_mask
        (M, G)`` (the object's labelled in-grid landmarks), ``landmark_indices (M, G)`` (flat cell of each
        landmark) and ``landmark_offset (M, G, 2)``. Losses gather the dense head outputs at the indices.
        Garments whose centre falls off the grid, and those beyond ``max_objects``, are left out.
        """
        cfg = self.config
        height, width = input_hw[0] // OUTPUT_STRIDE, input_hw[1] // OUTPUT_STRIDE
        slots, groups = cfg.max_objects, cfg.num_groups
        boxes = np.array([g.bbox for g in garments], np.float64).reshape(-1, 4) / OUTPUT_STRIDE
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        cells = np.floor(centres).astype(np.int64)
        inside = (cells[:, 0] >= 0) & (cells[:, 0] < width) & (cells[:, 1] >= 0) & (cells[:, 1] < height)
        keep = np.flatnonzero(inside & (boxes[:, 2] > 0) & (boxes[:, 3] > 0))[:slots]
        kept = [garments[i] for i in keep]
        boxes, centres, cells = boxes[keep], centres[keep], cells[keep]
        radii = np.maximum(0, gaussian_radius(np.ceil(boxes[:, 3]), np.ceil(boxes[:, 2])).astype(np.int64))
        categories = np.array([g.category_id - 1 for g in kept], np.int64)

        n = len(kept)
        targets = {
            "center_heatmap": splat((cfg.num_categories, height, width), categories, cells, radii),
            "indices": np.zeros(slots, np.int64),
            "object_mask": np.zeros(slots, np.float32),
            "center_offset": np.zeros((slots, 2), np.float32),
            "box_size": np.zeros((slots, 2), np.float32),
            "landmark_regression": np.zeros((slots, groups, 2), np.float32),
            "landmark_mask": np.zeros((slots, groups), np.float32),
            "landmark_indices": np.zeros((slots, groups), np.int64),
            "landmark_offset": np.zeros((slots, groups, 2), np.float32),
        }
        targets["indices"][:n] = cells[:, 1] * width + cells[:, 0]
        targets["object_mask"][:n] = 1
        targets["center_offset"][:n] = centres - cells
        targets["box_size"][:n] = boxes[:, 2:]

        owner = np.repeat(np.arange(n), [g.landmarks.shape[0] for g in kept]).astype(np.int64)
        points = np.concatenate([g.landmarks for g in kept]).reshape(-1, 3) if n else np.zeros((0, 3))
        point_groups = np.concatenate([CATEGORY_GROUPS[g.category_id] for g in kept]) if n else np.zeros(0, np.int64)
        xy = points[:, :2] / OUTPUT_STRIDE
        point_cells = np.floor(xy).astype(np.int64)
        valid = (
            (points[:, 2] > 0)
            & (point_cells[:, 0] >= 0)
            & (point_cells[:, 0] < width)
            & (point_cells[:, 1] >= 0)
            & (point_cells[:, 1] < height)
        )
        owner, point_groups, xy, point_cells = owner[valid], point_groups[valid], xy[valid], point_cells[valid]
        targets["landmark_regression"][owner, point_groups] = xy - cells[owner]
        targets["landmark_mask"][owner, point_groups] = 1
        targets["landmark_indices"][owner, point_groups] = point_cells[:, 1] * width + point_cells[:, 0]
        targets["landmark_offset"][owner, point_groups] = xy - point_cells
        targets["landmark_heatmap"] = splat((groups, height, width), point_groups, point_cells, radii[owner])
        return targets

    def decode(self, outputs: dict[str, np.ndarray], options: DecodeOptions | None = None) -> list[list[Garment]]:
        """Garments per image, in network-input pixels, from a batch of head outputs ``(B, C, h, w)``.

        Heatmaps must be probabilities (the deployed graph applies the sigmoid). Each garment carries
        its category's landmarks ``(K, 3)``: ``x, y`` and the landmark's heatmap score as ``v``.
        """
        opts = options or DecodeOptions()
        centre_heat = outputs["center_heatmap"].astype(np.float32, copy=False)
        if opts.center_sigma is not None:
            centre_heat = _smooth3(centre_heat, opts.center_sigma)
        alpha = opts.box_rescore_alpha
        # the landmark mean is at most 1, so candidates below this centre score can never reach score_thr
        reachable = opts.score_thr if alpha is None else (opts.score_thr - (1 - alpha)) / alpha
        candidate_thr = max(opts.min_center_score, reachable)

        peaks = _local_maxima(centre_heat)
        batch, _, height, width = peaks.shape
        flat = peaks.reshape(batch, -1)
        top = min(opts.max_candidates, flat.shape[1])
        candidates = np.argpartition(-flat, top - 1, axis=1)[:, :top]
        return [
            self._decode_image(
                outputs,
                b,
                candidates[b][flat[b, candidates[b]] >= candidate_thr],
                flat[b],
                (height, width),
                opts,
            )
            for b in range(batch)
        ]

    def _decode_image(
        self,
        outputs: dict[str, np.ndarray],
        b: int,
        picks: np.ndarray,
        centre_scores: np.ndarray,
        grid_hw: tuple[int, int],
        opts: DecodeOptions,
    ) -> list[Garment]:
        height, width = grid_hw
        categories, cell_flat = np.divmod(picks, height * width)
        cy, cx = np.divmod(cell_flat, width)
        sizes = outputs["box_size"][b][:, cy, cx].T
        solid = (sizes > 0).all(1)  # a box without extent is no garment
        if not solid.any():
            return []
        categories, cy, cx, sizes, picks = categories[solid], cy[solid], cx[solid], sizes[solid], picks[solid]
        scores = centre_scores[picks]
        centres = np.stack([cx, cy], 1) + outputs["center_offset"][b][:, cy, cx].T

        category_ids = categories + 1
        groups_per_det = [CATEGORY_GROUPS[int(c)] for c in category_ids]
        det = np.repeat(np.arange(len(picks)), [len(g) for g in groups_per_det])
        group = np.concatenate(groups_per_det)
        regression = outputs["landmark_regression"][b].reshape(-1, 2, height, width)
        regressed = np.stack([cx[det], cy[det]], 1) + regression[group, :, cy[det], cx[det]]

        channels, channel_of = np.unique(group, return_inverse=True)  # smooth only the heatmaps in use
        heat = outputs["landmark_heatmap"][b][channels].astype(np.float32, copy=False)
        if opts.landmark_sigma is not None:
            heat = _smooth3(heat, opts.landmark_sigma)
        if opts.rescore_divisor is not None:
            # (4): weigh by a Gaussian around the regressed point; beyond 3 sigma its weight is < 1 %
            sigma = np.maximum(np.min(sizes, 1) / opts.rescore_divisor, 1e-3)[det]
            bx, by, landmark_scores = _window_argmax(heat, channel_of, regressed, sigma, None)
        else:
            boxes_out = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1)[det]
            bx, by, landmark_scores = _window_argmax(heat, channel_of, centres[det], None, boxes_out)
        offsets = outputs["landmark_offset"][b].reshape(-1, 2, height, width)[group, :, by, bx]
        refined = np.stack([bx, by], 1) + offsets
        gamma = 1.0 if opts.blend_gamma is None else opts.blend_gamma
        points = gamma * refined + (1 - gamma) * regressed

        if opts.box_rescore_alpha is not None:
            mean_landmark = np.bincount(det, landmark_scores) / np.bincount(det)
            scores = opts.box_rescore_alpha * scores + (1 - opts.box_rescore_alpha) * mean_landmark
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= opts.score_thr][: opts.max_dets]
        starts = np.concatenate([[0], np.cumsum([len(g) for g in groups_per_det])])
        boxes = np.concatenate([centres - sizes / 2, sizes], 1)
        if opts.box_landmark_weight is not None:
            low, high = np.minimum.reduceat(points, starts[:-1]), np.maximum.reduceat(points, starts[:-1])
            extent = np.concatenate([low, high - low], 1)
            boxes = opts.box_landmark_weight * extent + (1 - opts.box_landmark_weight) * boxes
        boxes *= OUTPUT_STRIDE
        landmarks = np.concatenate([points * OUTPUT_STRIDE, landmark_scores[:, None]], 1)
        return [
            Garment(int(category_ids[i]), boxes[i], landmarks[starts[i] : starts[i + 1]], score=float(scores[i]))
            for i in order
        ]
