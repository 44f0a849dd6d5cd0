"""A garment's crop for the top-down landmark model: its box, widened to the crop's aspect and padded, mapped
onto a ``width`` x ``height`` input, and the map back.

The map is one 2 x 3 affine matrix (scale, optional rotation and shift for training's augmentation,
optional horizontal mirror), applied with ``cv2.warpAffine`` as :mod:`garmentcli.runtime.letterbox`
does, so training crops and inference crops are cut the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from garmentcli.runtime.letterbox import PAD_VALUE

BOX_PADDING = 1.25
"""The crop's side over the box's (after widening to the crop's aspect): context around the garment (RTMPose's)."""


@dataclass(frozen=True)
class GarmentCrop:
    """The image -> crop map of one garment."""

    matrix: np.ndarray
    """2 x 3, image pixels -> crop pixels."""
    width: int
    height: int

    @classmethod
    def around(
        cls,
        bbox: np.ndarray,
        width: int,
        height: int,
        padding: float = BOX_PADDING,
        scale: float = 1.0,
        rotation_deg: float = 0.0,
        shift: tuple[float, float] = (0.0, 0.0),
        mirror: bool = False,
    ) -> GarmentCrop:
        """The crop centred on ``bbox`` (``x, y, w, h``), the box widened to ``width : height`` and times
        ``padding * scale``; ``shift`` moves the centre by that share of the box, ``rotation_deg`` turns the
        garment in the crop, ``mirror`` flips it left to right."""
        x, y, box_w, box_h = (float(v) for v in bbox)
        box_w, box_h = max(box_w, 1.0), max(box_h, 1.0)
        centre = np.array([x + box_w * (0.5 + shift[0]), y + box_h * (0.5 + shift[1])])
        side_w = max(box_w, box_h * width / height) * padding * scale
        zoom = width / side_w
        angle = math.radians(rotation_deg)
        linear = zoom * np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
        if mirror:
            linear[0] *= -1
        offset = np.array([width / 2.0, height / 2.0]) - linear @ centre
        return cls(np.column_stack([linear, offset]), width, height)

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The ``height`` x ``width`` crop of a BGR image (grey outside the image)."""
        return cv2.warpAffine(
            image,
            self.matrix,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=PAD_VALUE,
        )

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixels (N, 2) -> crop pixels."""
        return np.asarray(points, np.float64) @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels (..., 2) -> image pixels."""
        inverse = cv2.invertAffineTransform(self.matrix)
        return np.asarray(points, np.float64) @ inverse[:, :2].T + inverse[:, 2]
