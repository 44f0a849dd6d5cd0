"""The run folder's record of a training: ``log.csv`` (one row per epoch) and ``curves.png``.

The CSV is rewritten atomically from the full history after every epoch, so it always matches
the checkpoint it sits beside (a resumed run carries the history inside ``last.pt``). The plot
is drawn with OpenCV: losses on the left (log scale), validation metrics on the right.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from garmentcli.io.atomic import atomic_write
from garmentcli.io.images import write_image

PANEL_W, PANEL_H, MARGIN = 520, 360, 60
PALETTE = [(200, 90, 30), (40, 140, 230), (60, 170, 60), (40, 40, 200), (160, 60, 160), (20, 160, 160), (90, 90, 90)]
"""BGR line colours, reused in order."""


def write_csv(history: Sequence[dict[str, float]], path: Path) -> None:
    """All epochs as CSV rows; columns are the union of the keys, in first-seen order."""
    columns: list[str] = []
    for row in history:
        columns.extend(k for k in row if k not in columns)
    with atomic_write(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)


def _draw_panel(title: str, xs: np.ndarray, series: dict[str, np.ndarray], log_scale: bool) -> np.ndarray:
    """One chart: axes, a legend and one polyline per series (NaNs skipped)."""
    panel = np.full((PANEL_H, PANEL_W, 3), 255, np.uint8)
    cv2.putText(panel, title, (MARGIN, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    values = np.concatenate([v[np.isfinite(v)] for v in series.values()] + [np.zeros(0)])
    if log_scale:
        values = values[values > 0]
    if xs.size == 0 or values.size == 0:
        return panel
    transform = np.log10 if log_scale else (lambda a: a)
    low, high = float(transform(values).min()), float(transform(values).max())
    if math.isclose(low, high):
        low, high = low - 0.5, high + 0.5
    x_low, x_high = float(xs.min()), float(max(xs.max(), xs.min() + 1))
    left, right, top, bottom = MARGIN, PANEL_W - 16, 40, PANEL_H - MARGIN
    cv2.rectangle(panel, (left, top), (right, bottom), (0, 0, 0), 1)
    for label, y_value in (
        ("%.3g" % (10**high if log_scale else high), top),
        ("%.3g" % (10**low if log_scale else low), bottom),
    ):
        cv2.putText(panel, label, (2, y_value + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        panel, f"epoch {x_low:g}..{x_high:g}", (left, PANEL_H - 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1
    )
    for n, (name, ys) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        keep = np.isfinite(ys) & (ys > 0 if log_scale else True)
        px = left + (xs[keep] - x_low) / (x_high - x_low) * (right - left)
        py = bottom - (transform(ys[keep]) - low) / (high - low) * (bottom - top)
        points = np.stack([px, py], axis=1).round().astype(np.int32)
        cv2.polylines(panel, [points.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        for point in points:
            cv2.circle(panel, (int(point[0]), int(point[1])), 2, colour, -1, cv2.LINE_AA)
        cv2.putText(panel, name, (left + 8, top + 16 + 16 * n), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    return panel


def plot_curves(history: Sequence[dict[str, float]], path: Path) -> None:
    """Write ``curves.png``: every ``loss*`` column on the left, every ``val_*`` column on the right."""
    xs = np.array([row["epoch"] for row in history], dtype=np.float64)

    def column(key: str) -> np.ndarray:
        return np.array([float(row.get(key, np.nan)) for row in history])

    keys = [k for row in history for k in row]
    loss_keys = list(dict.fromkeys(k for k in keys if k.startswith("loss")))
    metric_keys = list(dict.fromkeys(k for k in keys if k.startswith("val_")))
    image = np.hstack(
        [
            _draw_panel("training loss (log)", xs, {k: column(k) for k in loss_keys}, log_scale=True),
            _draw_panel("validation", xs, {k: column(k) for k in metric_keys}, log_scale=False),
        ]
    )
    write_image(image, path)
