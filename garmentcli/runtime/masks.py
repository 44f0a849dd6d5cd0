"""Mask R-CNN's box-relative mask probabilities -> a binary mask of the original image -> COCO RLE.

A detection's mask is a ``M x M`` grid of probabilities over its box on the network input; cell ``i`` is centred
at ``x0 + (i + 0.5) * w / M`` there. One affine map takes the grid straight to original-image pixels (through the
image's :class:`~garmentcli.runtime.letterbox.Letterbox`), so the mask is resampled once, bilinearly, at the
image's own resolution, and thresholded at :data:`MASK_THRESHOLD` (torchvision's paste threshold).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from garmentcli.io.rle import encode_rle
from garmentcli.runtime.letterbox import Letterbox

MASK_THRESHOLD = 0.5


def image_mask(probabilities: np.ndarray, bbox: np.ndarray, box: Letterbox) -> np.ndarray:
    """The ``(height, width)`` bool mask of one detection: ``probabilities`` (M, M) over ``bbox`` (``x, y, w, h``
    in input pixels), in the original image ``box`` maps onto the input."""
    cells = probabilities.shape[0]
    x0, y0, w, h = (float(v) for v in bbox)
    # image index j of input coordinate c: (c - pad) / scale - 0.5 (pixel j covers [j, j + 1))
    sx, sy = w / cells / box.scale, h / cells / box.scale
    tx = (x0 + 0.5 * w / cells - box.pad_x) / box.scale - 0.5
    ty = (y0 + 0.5 * h / cells - box.pad_y) / box.scale - 0.5
    matrix = np.array([[sx, 0.0, tx], [0.0, sy, ty]])
    pasted = cv2.warpAffine(
        probabilities.astype(np.float32),
        matrix,
        (box.width, box.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return pasted >= MASK_THRESHOLD


def mask_rle(probabilities: np.ndarray, bbox: np.ndarray, box: Letterbox) -> dict[str, Any]:
    """:func:`image_mask` as COCO RLE (what ``detect --masks`` writes as the garment's ``segmentation``)."""
    return encode_rle(image_mask(probabilities, bbox, box))
