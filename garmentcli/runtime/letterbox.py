"""Letterboxing: fit an image into the square network input (aspect kept, centred, grey padding) and back.

The geometry is ``input = scale * image + pad`` with ``scale = size / max(width, height)``, the
same map training uses, applied with ``cv2.warpAffine`` so pixel centres line up exactly. The same
map with another scale and pad is a square crop around one garment (:meth:`Letterbox.around`),
which the zoom refinement of :mod:`garmentcli.runtime.predictor` feeds to the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from garmentcli.schema.records import Garment

PAD_VALUE = (114, 114, 114)


@dataclass(frozen=True)
class Letterbox:
    """The image -> network-input map of one image."""

    scale: float
    pad_x: float
    pad_y: float
    width: int
    height: int
    """Size of the original image."""

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> Letterbox:
        scale = size / max(width, height)
        return cls(scale, (size - scale * width) / 2.0, (size - scale * height) / 2.0, width, height)

    @classmethod
    def around(cls, bbox: np.ndarray, fill: float, width: int, height: int, size: int) -> Letterbox:
        """The square crop centred on ``bbox`` (``x, y, w, h``) whose side is the box's longer side / ``fill``."""
        x, y, box_w, box_h = (float(v) for v in bbox)
        scale = size * fill / max(box_w, box_h, 1.0)
        return cls(scale, size / 2.0 - scale * (x + box_w / 2), size / 2.0 - scale * (y + box_h / 2), width, height)

    @property
    def matrix(self) -> np.ndarray:
        """The 2x3 affine matrix image -> input."""
        return np.array([[self.scale, 0.0, self.pad_x], [0.0, self.scale, self.pad_y]])

    def to_image(self, garment: Garment) -> Garment:
        """``garment`` (input pixels) in original-image pixels, box and landmarks clipped to the image."""
        x0, y0 = (garment.bbox[:2] - (self.pad_x, self.pad_y)) / self.scale
        x1, y1 = np.array([x0, y0]) + garment.bbox[2:] / self.scale
        x0, x1 = np.clip([x0, x1], 0, self.width)
        y0, y1 = np.clip([y0, y1], 0, self.height)
        landmarks = garment.landmarks.copy()
        landmarks[:, :2] = (landmarks[:, :2] - (self.pad_x, self.pad_y)) / self.scale
        landmarks[:, 0] = np.clip(landmarks[:, 0], 0, self.width)
        landmarks[:, 1] = np.clip(landmarks[:, 1], 0, self.height)
        return Garment(garment.category_id, [x0, y0, x1 - x0, y1 - y0], landmarks, score=garment.score)

    def to_image_all(self, garments: list[Garment]) -> list[Garment]:
        """:meth:`to_image` of each garment, leaving out those whose box lies wholly in the padding."""
        mapped = [self.to_image(g) for g in garments]
        return [g for g in mapped if g.bbox[2] > 0 and g.bbox[3] > 0]


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """The ``size`` x ``size`` network input for a BGR image, and the map that made it."""
    height, width = image.shape[:2]
    box = Letterbox.fit(width, height, size)
    return warp(image, box, size), box


def warp(image: np.ndarray, box: Letterbox, size: int) -> np.ndarray:
    """The ``size`` x ``size`` canvas ``box`` maps ``image`` onto (grey where the image does not reach)."""
    return cv2.warpAffine(
        image, box.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=PAD_VALUE
    )


def to_tensor(canvases: list[np.ndarray]) -> np.ndarray:
    """Stack letterboxed BGR canvases into the network's float32 ``(B, 3, S, S)`` input (0..255)."""
    return np.ascontiguousarray(np.stack(canvases).transpose(0, 3, 1, 2), dtype=np.float32)
