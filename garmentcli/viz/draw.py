"""Overlays of garments on images, and contact sheets of several pictures.

Each category has its own colour. A garment is drawn as its box, its outline (the category's
outline polylines through the labelled landmarks), landmark dots and a label with the score.
Ground truth: filled dot = visible (v 2), hollow dot = occluded (v 1), nothing for v 0.
Predictions (garments with a score): ``v`` is the landmark's confidence; filled when it is at
least :data:`CONFIDENT`, hollow below, nothing at 0. FLD garments get dots, box and label (FLD has
no outline). Line widths and text scale with the image size.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from garmentcli.errors import InputError
from garmentcli.schema.fld import FLD_CATEGORY_BASE, is_fld
from garmentcli.schema.garments import category_name
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment

CONFIDENT = 0.5
"""Predicted landmarks with a confidence at least this are drawn filled."""
_PALETTE_SIZE = 16  # 13 DeepFashion2 categories + 3 FLD clothes types
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BACKGROUND = (32, 32, 32)


def category_colour(category_id: int) -> tuple[int, int, int]:
    """A distinct, saturated BGR colour per category (evenly spaced hues, FLD after DeepFashion2)."""
    slot = (category_id - FLD_CATEGORY_BASE + len(DF2.categories) if is_fld(category_id) else category_id) - 1
    hue = np.uint8(round(slot * 180 / _PALETTE_SIZE) * 7 % 180)  # hop around the wheel: neighbours differ
    bgr = cv2.cvtColor(np.array([[[hue, 220, 235]]], dtype=np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def _filled_mask(garment: Garment) -> tuple[np.ndarray, np.ndarray]:
    """(drawn, filled) boolean masks over the garment's landmarks."""
    v = garment.landmarks[:, 2]
    drawn = v > 0
    filled = v >= (CONFIDENT if garment.score is not None else 2)
    return drawn, drawn & filled


def _draw_outline(canvas: np.ndarray, garment: Garment, colour: tuple[int, int, int], thickness: int) -> None:
    """Outline polylines, broken where a landmark is not labelled."""
    points = np.round(garment.landmarks[:, :2]).astype(np.int32)
    drawn = garment.landmarks[:, 2] > 0
    segments = [
        points[[a, b]]
        for chain in garment.category.outline_indices()
        for a, b in itertools.pairwise(chain)
        if drawn[a] and drawn[b]
    ]
    if segments:
        cv2.polylines(canvas, segments, False, colour, thickness, cv2.LINE_AA)


def _draw_label(
    canvas: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int], scale: float
) -> None:
    thickness = max(1, round(scale * 2))
    (width, height), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    x = min(max(corner[0], 0), max(canvas.shape[1] - width, 0))
    y = max(corner[1], height + baseline)
    cv2.rectangle(canvas, (x, y - height - baseline), (x + width, y), colour, cv2.FILLED)
    cv2.putText(canvas, text, (x, y - baseline), _FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def draw_garments(image_bgr: np.ndarray, garments: Sequence[Garment], *, show_score: bool = True) -> np.ndarray:
    """A copy of ``image_bgr`` with every garment drawn on it (see the module docstring for the styles)."""
    canvas = image_bgr.copy()
    size = min(canvas.shape[:2])
    thickness = max(1, round(size / 400))
    radius = max(2, round(size / 150))
    scale = max(0.4, size / 1000)
    for garment in garments:
        colour = category_colour(garment.category_id)
        x, y, w, h = np.round(garment.bbox).astype(int).tolist()
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness, cv2.LINE_8)
        if not is_fld(garment.category_id):
            _draw_outline(canvas, garment, colour, thickness)
        drawn, filled = _filled_mask(garment)
        points = np.round(garment.landmarks[drawn, :2]).astype(int).tolist()
        for (px, py), solid in zip(points, filled[drawn], strict=True):
            cv2.circle(canvas, (px, py), radius, colour, cv2.FILLED if solid else thickness, cv2.LINE_AA)
            cv2.circle(canvas, (px, py), radius + thickness, (0, 0, 0), 1, cv2.LINE_AA)
        label = category_name(garment.category_id)
        if show_score and garment.score is not None:
            label += f" {garment.score:.2f}"
        _draw_label(canvas, label, (x, y), colour, scale)
    return canvas


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height``, centred on the background colour."""
    cell = np.full((height, width, 3), _BACKGROUND, dtype=np.uint8)
    factor = min(width / image.shape[1], height / image.shape[0])
    new_w, new_h = max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    cell[top : top + new_h, left : left + new_w] = resized
    return cell


def contact_sheet(
    images: Sequence[np.ndarray],
    cols: int = 4,
    cell_width: int = 320,
    gap: int = 4,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Tile BGR images into a grid ``cols`` wide, each fitted into a cell ``cell_width`` wide.

    The cell height follows the median aspect ratio of the images. With ``names`` each tile gets a caption
    band under it with its name (shortened from the left when it does not fit).
    """
    if not images:
        raise InputError("contact sheet: no images")
    if cols < 1:
        raise InputError(f"contact sheet: cols must be at least 1, got {cols}")
    if names is not None and len(names) != len(images):
        raise InputError(f"contact sheet: {len(names)} names for {len(images)} images")
    cols = min(cols, len(images))
    rows = -(-len(images) // cols)
    aspect = float(np.median([im.shape[0] / im.shape[1] for im in images]))
    cell_height = max(1, round(cell_width * aspect))
    caption = _CAPTION_PX if names is not None else 0
    step = cell_height + caption + gap
    sheet = np.full((rows * step + gap, cols * cell_width + (cols + 1) * gap, 3), _BACKGROUND, dtype=np.uint8)
    for index, image in enumerate(images):
        row, col = divmod(index, cols)
        top, left = gap + row * step, gap + col * (cell_width + gap)
        sheet[top : top + cell_height, left : left + cell_width] = _fit(image, cell_width, cell_height)
        if names is not None:
            _caption(sheet, names[index], left, top + cell_height, cell_width)
    return sheet


_CAPTION_PX = 18
"""Height of a contact-sheet tile's name band."""


def _caption(sheet: np.ndarray, name: str, left: int, top: int, width: int) -> None:
    """``name`` in white on a dark band ``width`` wide at ``(left, top)``; long names keep their end."""
    sheet[top : top + _CAPTION_PX, left : left + width] = (40, 40, 40)
    scale, font = 0.42, cv2.FONT_HERSHEY_SIMPLEX
    text = name
    while len(text) > 4 and cv2.getTextSize(text, font, scale, 1)[0][0] > width - 6:
        text = text[1:]
    if text != name:
        text = "..." + text[3:]
    cv2.putText(sheet, text, (left + 3, top + _CAPTION_PX - 5), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
