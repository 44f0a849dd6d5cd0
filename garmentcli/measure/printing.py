"""Printable boards at true size: the whole board on one page, or one page per marker for table corners.

Every page carries a caption (marker ids, where the marker goes on the table) and a 10 cm
check line: printers scale, so the user measures the printed marker and passes that side.
PNG files get their DPI recorded; PDF pages are sized so that 100 % printing gives true size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from garmentcli.choices import PAPER_CM
from garmentcli.errors import InputError
from garmentcli.io.atomic import atomic_write
from garmentcli.measure.board import BoardLayout, render_board
from garmentcli.measure.calibration import CM_PER_INCH

CAPTION_CM = 2.0
"""Height of the white band under the markers holding the caption and the 10 cm check line."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def check_paper(pages: list[np.ndarray], dpi: float, paper: str) -> None:
    """Refuse pages larger than ``paper`` (either way round) with one line saying what would fit."""
    if paper == "none":
        return
    short, long = sorted(PAPER_CM[paper])
    for page in pages:
        side_a, side_b = sorted(np.array(page.shape[:2]) * CM_PER_INCH / dpi)
        if side_a > short + 1e-6 or side_b > long + 1e-6:
            larger = [name for name, size in PAPER_CM.items() if min(size) >= side_a and max(size) >= side_b]
            hint = f"--paper {larger[0]}" if larger else "--paper none (a plotter or print shop)"
            raise InputError(
                f"a page is {side_a:.1f} x {side_b:.1f} cm, larger than {paper.upper()} ({short:g} x {long:g} cm): "
                f"use {hint}, a smaller --marker-cm, or fewer markers"
            )


def _fitted_scale(text: str, width_px: float, px_per_cm: float) -> float:
    """A font scale that makes ``text`` about 0.4 cm tall but no wider than ``width_px``."""
    (width, height), _ = cv2.getTextSize(text, _FONT, 1.0, 1)
    return min(0.4 * px_per_cm / height, width_px / width)


def _with_caption(board: np.ndarray, px_per_cm: float, text: str) -> np.ndarray:
    """The board with a caption band below it: the text, and a whole-cm line to check the print scale."""
    band = np.full((round(CAPTION_CM * px_per_cm), board.shape[1]), 255, dtype=np.uint8)
    width_cm = board.shape[1] / px_per_cm
    thickness = max(1, round(px_per_cm / 40))
    left = round(0.5 * px_per_cm)
    scale = _fitted_scale(text, board.shape[1] - 2 * left, px_per_cm)
    cv2.putText(band, text, (left, round(0.8 * px_per_cm)), _FONT, scale, 0, thickness)
    line_cm = float(min(10, int(width_cm - 3)))
    y, tick = round(1.5 * px_per_cm), round(0.2 * px_per_cm)
    end = left + round(line_cm * px_per_cm)
    cv2.line(band, (left, y), (end, y), 0, thickness)
    for x in (left, end):
        cv2.line(band, (x, y - tick), (x, y + tick), 0, thickness)
    label = f"{line_cm:g} cm"
    cv2.putText(band, label, (end + tick, y + tick // 2), _FONT, _fitted_scale(label, 2 * px_per_cm, px_per_cm), 0,
                thickness)  # fmt: skip
    return np.vstack([board, band])


def board_pages(layout: BoardLayout, dpi: float, separate: bool, margin_cm: float = 1.0) -> list[np.ndarray]:
    """Grey pages at ``dpi``: one with every marker, or (``separate``) one per marker with its table position."""
    px_per_cm = dpi / CM_PER_INCH
    if not separate:
        image, _ = render_board(layout, px_per_cm, margin_cm)
        ids = layout.ids
        text = f"{layout.dictionary} ids {ids.min()}-{ids.max()}; print at 100 %, measure a marker's side"
        return [_with_caption(image, px_per_cm, text)]
    pages = []
    for marker_id, corners in sorted(layout.markers.items()):
        image, _ = render_board(BoardLayout(layout.dictionary, {marker_id: corners}), px_per_cm, margin_cm)
        x, y = corners[0]
        text = f"{layout.dictionary} id {marker_id}: top-left corner at ({x:g}, {y:g}) cm"
        pages.append(_with_caption(image, px_per_cm, text))
    return pages


def save_pages(pages: list[np.ndarray], path: Path, dpi: float) -> list[Path]:
    """Write the pages: one PDF (any number of pages), or PNGs (``name-<n>.png`` when several)."""
    suffix = path.suffix.lower()
    images = [Image.fromarray(page) for page in pages]
    if suffix == ".pdf":
        with atomic_write(path, "wb") as handle:
            images[0].save(handle, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
        return [path]
    if suffix != ".png":
        raise InputError(f"{path}: the board is written as .pdf or .png")
    targets = [path] if len(images) == 1 else [path.with_name(f"{path.stem}-{n}.png") for n in range(len(images))]
    for image, target in zip(images, targets, strict=True):
        with atomic_write(target, "wb") as handle:
            image.save(handle, "PNG", dpi=(dpi, dpi))
    return targets
