"""Decoding the two-stage detectors' deployed outputs into garments (pure numpy, no torch).

The graph already did the detector's own post-processing (per-class NMS, torchvision's score threshold, the best
:attr:`~garmentcli.models.config.FasterRcnnConfig.max_detections`); what is left is the user's ``score_thr`` and
``max_dets`` (:class:`~garmentcli.models.codec.DecodeOptions`; the DeepMark++ options do not apply) and the garment
records: a box, a category, a score, and its category's landmarks all at ``v = 0`` (these detectors place none;
``detect --landmarks`` composes a top-down model that does).
"""

from __future__ import annotations

import numpy as np

from garmentcli.models.codec import DecodeOptions
from garmentcli.models.config import FasterRcnnConfig
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment


class RcnnDecoder:
    """:meth:`decode` as :class:`~garmentcli.models.codec.TargetCodec` does, for :data:`~garmentcli.models.config.
    RCNN_OUTPUTS`; :meth:`masks` gives the kept detections' mask probabilities in the same order."""

    def __init__(self, config: FasterRcnnConfig) -> None:
        self.config = config

    @staticmethod
    def kept(scores: np.ndarray, options: DecodeOptions) -> list[np.ndarray]:
        """Per image, the rows to report: scoring at least ``score_thr`` (never a padding row, score 0), best first,
        at most ``max_dets``."""
        rows = []
        for image in scores:
            order = np.argsort(-image, kind="stable")
            order = order[(image[order] > 0) & (image[order] >= options.score_thr)]
            rows.append(order[: options.max_dets])
        return rows

    def decode(self, outputs: dict[str, np.ndarray], options: DecodeOptions | None = None) -> list[list[Garment]]:
        """Garments per image, in network-input pixels."""
        options = options or DecodeOptions()
        found = []
        for boxes, scores, labels, rows in zip(
            outputs["boxes"], outputs["scores"], outputs["labels"], self.kept(outputs["scores"], options), strict=True
        ):
            garments = []
            for row in rows.tolist():
                x0, y0, x1, y1 = boxes[row].astype(np.float64)
                category = DF2.category(int(labels[row]))
                landmarks = np.zeros((category.num_landmarks, 3))
                garments.append(Garment(category.id, [x0, y0, x1 - x0, y1 - y0], landmarks, score=float(scores[row])))
            found.append(garments)
        return found

    def masks(self, outputs: dict[str, np.ndarray], options: DecodeOptions | None = None) -> list[np.ndarray]:
        """Per image, the ``(N, 28, 28)`` mask probabilities of the garments :meth:`decode` gives, in its order."""
        rows = self.kept(outputs["scores"], options or DecodeOptions())
        return [masks[kept] for masks, kept in zip(outputs["masks"], rows, strict=True)]
