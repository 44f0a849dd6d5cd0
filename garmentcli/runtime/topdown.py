"""Landmarks from the top-down model for garments whose boxes and categories are known.

:class:`TopDownLandmarker` cuts every garment's crop (:class:`~garmentcli.runtime.crops.GarmentCrop`),
runs the network on batches of crops, decodes the SimCC logits (:class:`~garmentcli.models.simcc.SimccCodec`)
and gives each garment the landmarks of its category in image pixels, with each landmark's score as
``v`` (as the one-stage decoder does). Boxes, categories and ids stay as given; a garment without a
score gets the mean of its landmark scores. This is the one way top-down landmarks are made: ``detect
--landmarks``, ``measure`` and training's validation all go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from garmentcli.models.config import TopDownConfig
from garmentcli.models.simcc import SimccCodec
from garmentcli.runtime.crops import GarmentCrop
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment

CropRunner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""float32 crops (B, 3, H, W), BGR 0..255 -> SimCC logits x (B, G, W * r) and y (B, G, H * r)."""


def codec_of(config: TopDownConfig) -> SimccCodec:
    """The SimCC codec of a top-down model (its crop size, bins and target widths)."""
    return SimccCodec(config.input_width, config.input_height, config.split_ratio, config.sigma)


class TopDownLandmarker:
    """Replaces the landmarks of given garments with the top-down model's."""

    def __init__(self, run: CropRunner, config: TopDownConfig, batch_size: int = 16) -> None:
        self.run = run
        self.config = config
        self.codec = codec_of(config)
        self.batch_size = batch_size

    def crop(self, garment: Garment) -> GarmentCrop:
        return GarmentCrop.around(garment.bbox, self.config.input_width, self.config.input_height)

    def landmarks(self, images: Sequence[np.ndarray], garments: Sequence[Sequence[Garment]]) -> list[list[Garment]]:
        """For each image, its garments with the model's landmarks (in image pixels, score as ``v``)."""
        jobs = [(i, j) for i, found in enumerate(garments) for j in range(len(found))]
        result = [list(found) for found in garments]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start : start + self.batch_size]
            crops = [self.crop(garments[i][j]) for i, j in chunk]
            batch = np.stack([c.cut(images[i]) for c, (i, _) in zip(crops, chunk, strict=True)])
            logits_x, logits_y = self.run(np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32))
            points, scores = self.codec.decode(logits_x, logits_y)  # (B, G, 2), (B, G)
            for k, ((i, j), crop) in enumerate(zip(chunk, crops, strict=True)):
                garment = garments[i][j]
                groups = DF2.group_of[garment.category.slice]
                height, width = images[i].shape[:2]
                xy = np.clip(crop.to_image(points[k, groups]), 0, [width, height])  # as Letterbox.to_image clips
                landmarks = np.column_stack([xy, scores[k, groups]])
                score = garment.score if garment.score is not None else float(landmarks[:, 2].mean())
                result[i][j] = replace(garment, landmarks=landmarks, score=score)
        return result


def torch_runner(network: Any, device: Any = "cpu") -> CropRunner:
    """An in-memory torch top-down network as a :data:`CropRunner` (eval and inference mode for each call,
    its mode restored after): what training's validation runs."""
    from garmentcli.errors import require_torch

    torch = require_torch()

    def run(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        training = network.training
        network.eval()
        try:
            with torch.inference_mode():
                logits_x, logits_y = network(torch.from_numpy(crops).to(device))
        finally:
            network.train(training)
        return logits_x.float().cpu().numpy(), logits_y.float().cpu().numpy()

    return run
