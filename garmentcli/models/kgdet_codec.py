"""What the KGDet network's outputs mean: training targets in, garments out (:class:`KgdetCodec`).

Conventions (shared with :mod:`garmentcli.models.kgdet`): the network predicts at every location of the levels of
:attr:`~garmentcli.models.config.KgdetConfig.strides`, the levels' locations concatenated in that order, row-major;
a location's centre is ``(column + 0.5, row + 0.5)`` cells of its level. Each garment belongs to one level, the one
where its size ``sqrt(w h)`` is closest (in log scale) to :data:`POINT_SCALE` cells, and is a Gaussian peak (the
one-stage codec's radius) of its category's score map at the cell of its box centre there. From that cell its
keypoint and box targets are in cells of the level from the cell's centre: semantic group ``g`` of its category's
labelled landmarks (inside the input) at ``points[g]``, its box as ``x0, y0, x1, y1``.
"""

from __future__ import annotations

import numpy as np

from garmentcli.models.codec import CATEGORY_GROUPS, DecodeOptions, gaussian_radius, splat
from garmentcli.models.config import KgdetConfig
from garmentcli.schema.records import Garment

POINT_SCALE = 4.0
"""A garment goes to the level where its size is nearest this many cells (RepPoints' point base scale)."""

NMS_IOU = 0.5
"""Same-category detections overlapping more than this are one garment (RepPoints' NMS threshold)."""


def level_sizes(config: KgdetConfig) -> list[int]:
    """The side (cells) of each head level's square map."""
    return [config.input_size // stride for stride in config.strides]


def assign_levels(sizes: np.ndarray, config: KgdetConfig) -> np.ndarray:
    """The level (index into ``config.strides``) of garments of size ``sqrt(w h)`` ``sizes`` (input pixels)."""
    ideal = np.log2(np.maximum(sizes, 1e-6) / POINT_SCALE)
    return np.abs(ideal[:, None] - np.log2(np.asarray(config.strides, np.float64))[None, :]).argmin(1)


def nms(boxes: np.ndarray, scores: np.ndarray, categories: np.ndarray, threshold: float = NMS_IOU) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of ``x0, y0, x1, y1`` boxes within each category, best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, categories = boxes[order], categories[order]
    low = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    high = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.clip(high - low, 0, None).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(inter > 0, inter / (area[:, None] + area[None, :] - inter), 0.0)
    suppresses = (iou > threshold) & (categories[:, None] == categories[None, :])
    kept = np.ones(len(order), bool)
    for i in range(len(order)):
        if kept[i]:
            kept[i + 1 :] &= ~suppresses[i, i + 1 :]
    return order[kept]


class KgdetCodec:
    """Encode ground truth into KGDet training targets and decode the deployed graph's outputs into garments."""

    def __init__(self, config: KgdetConfig | None = None) -> None:
        self.config = config or KgdetConfig()

    def encode(self, garments: list[Garment], input_hw: tuple[int, int]) -> dict[str, np.ndarray]:
        """Training targets for one image whose garments are in input-pixel coordinates.

        ``heatmap (L, C)`` (every location's category targets in [0, 1], peaks at 1) and, per object slot
        ``m < max_objects``: ``indices (M,)`` (its location), ``object_mask (M,)``, ``points (M, G, 2)`` with
        ``point_mask (M, G)`` (the groups of its labelled landmarks inside the input) and ``boxes (M, 4)``.
        Garments without extent or whose centre is off the input, and those beyond ``max_objects``, are left out.
        """
        cfg = self.config
        height, width = input_hw
        slots, groups = cfg.max_objects, cfg.num_groups
        boxes = np.array([g.bbox for g in garments], np.float64).reshape(-1, 4)
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        inside = (centres >= 0).all(1) & (centres[:, 0] < width) & (centres[:, 1] < height)
        keep = np.flatnonzero(inside & (boxes[:, 2] > 0) & (boxes[:, 3] > 0))[:slots]
        kept = [garments[i] for i in keep]
        boxes, centres = boxes[keep], centres[keep]
        levels = assign_levels(np.sqrt(boxes[:, 2] * boxes[:, 3]), cfg)
        strides = np.asarray(cfg.strides, np.float64)[levels][:, None]
        cells = np.floor(centres / strides).astype(np.int64)
        sides = level_sizes(cfg)
        starts = np.concatenate([[0], np.cumsum([side * side for side in sides])])
        categories = np.array([g.category_id - 1 for g in kept], np.int64)
        radii = np.maximum(
            0, gaussian_radius(np.ceil(boxes[:, 3] / strides[:, 0]), np.ceil(boxes[:, 2] / strides[:, 0]))
        )
        maps = []
        for level, side in enumerate(sides):
            mine = levels == level
            heat = splat((cfg.num_categories, side, side), categories[mine], cells[mine], radii[mine].astype(np.int64))
            maps.append(heat.reshape(cfg.num_categories, -1))

        n = len(kept)
        origin = (cells + 0.5) * strides  # each garment's location centre, input pixels
        targets = {
            "heatmap": np.ascontiguousarray(np.concatenate(maps, axis=1).T),
            "indices": np.zeros(slots, np.int64),
            "object_mask": np.zeros(slots, np.float32),
            "points": np.zeros((slots, groups, 2), np.float32),
            "point_mask": np.zeros((slots, groups), np.float32),
            "boxes": np.zeros((slots, 4), np.float32),
        }
        targets["indices"][:n] = starts[levels] + cells[:, 1] * np.asarray(sides)[levels] + cells[:, 0]
        targets["object_mask"][:n] = 1
        corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
        targets["boxes"][:n] = (corners - np.tile(origin, 2)) / strides
        for m, garment in enumerate(kept):
            xy, visible = garment.landmarks[:, :2], garment.landmarks[:, 2] > 0
            on_input = visible & (xy >= 0).all(1) & (xy[:, 0] < width) & (xy[:, 1] < height)
            group = CATEGORY_GROUPS[garment.category_id][on_input]
            targets["points"][m, group] = (xy[on_input] - origin[m]) / strides[m]
            targets["point_mask"][m, group] = 1
        return targets

    def decode(self, outputs: dict[str, np.ndarray], options: DecodeOptions | None = None) -> list[list[Garment]]:
        """Garments per image, in network-input pixels, from a batch of the deployed graph's outputs
        (:data:`~garmentcli.models.config.KGDET_OUTPUTS`).

        The (location, category) pairs scoring at least ``score_thr`` (the ``max_candidates`` best) are kept after
        per-category NMS, at most ``max_dets``; each garment has the box of its location and its category's landmarks
        there, with each one's visibility score as ``v``. The DeepMark++ steps of :class:`DecodeOptions` are the
        heatmap network's and do not apply.
        """
        opts = options or DecodeOptions()
        return [
            self._decode_image(*(outputs[name][b] for name in ("scores", "boxes", "keypoints", "visibility")), opts)
            for b in range(len(outputs["scores"]))
        ]

    def _decode_image(
        self, scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, visibility: np.ndarray, opts: DecodeOptions
    ) -> list[Garment]:
        flat = scores.reshape(-1)
        top = min(opts.max_candidates, flat.size)
        candidates = np.argpartition(-flat, top - 1)[:top]
        candidates = candidates[flat[candidates] >= opts.score_thr]
        locations, categories = np.divmod(candidates, scores.shape[1])
        picked = boxes[locations].astype(np.float64)
        solid = (picked[:, 2:] > picked[:, :2]).all(1)  # a box without extent is no garment
        candidates, locations, categories = candidates[solid], locations[solid], categories[solid]
        picked = picked[solid]
        kept = nms(picked, flat[candidates], categories)[: opts.max_dets]
        garments = []
        for i in kept:
            category = int(categories[i]) + 1
            groups = CATEGORY_GROUPS[category]
            landmarks = np.column_stack([keypoints[locations[i], groups], visibility[locations[i], groups]])
            box = np.concatenate([picked[i, :2], picked[i, 2:] - picked[i, :2]])
            garments.append(Garment(category, box, landmarks, score=float(flat[candidates[i]])))
        return garments
