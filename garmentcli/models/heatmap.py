"""Heatmap landmark coordinates (the CSPN model's): one 2-D Gaussian map per landmark, on a grid ``stride`` times
coarser than the crop.

Cell ``(i, j)`` covers crop pixels ``stride * i`` to ``stride * i + stride - 1`` across (and likewise down), so
it is centred on pixel ``stride * i + (stride - 1) / 2`` (OpenCV's convention: pixel centres on whole numbers);
the grid is symmetric in the crop, and a crop's edge pixels are less than half a cell beyond the outer centres.
A landmark's target is an unnormalised Gaussian (peak 1 at its exact position, ``sigma`` in cells), the mean
squared error's target in CSPN (and CPN, SimpleBaseline).

Decoding takes each map's arg-max cell and refines it per axis, within half a cell, to the vertex of the
parabola through the log heat of that cell and its two neighbours along the axis
(:func:`~garmentcli.models.simcc.parabola_peak`, SimCC's refinement): the log of a Gaussian is a parabola, so the
position of a Gaussian-shaped prediction is recovered exactly, not only to the nearest cell. A landmark's score is
the map's peak, cut to 0..1 (a perfect target's peak is about 1).

Plain numpy: training encodes with it, and the deployed ONNX graph's heatmaps are decoded with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from garmentcli.models.simcc import inside_crop, parabola_peak

LOG_FLOOR = 1e-12
"""Heat at or below this counts as this in the log (a regressed map may be 0 or negative beside its peak)."""


@dataclass(frozen=True)
class HeatmapCodec:
    """Encoder and decoder for a ``width`` x ``height`` crop (pixels)."""

    width: int
    height: int
    stride: int = 4
    sigma: float = 2.0
    """Gaussian width of the targets, in cells."""

    @property
    def size(self) -> tuple[int, int]:
        """The maps' width and height in cells."""
        return self.width // self.stride, self.height // self.stride

    def to_cells(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels (..., 2) -> cell coordinates (cell centres on whole numbers)."""
        return (np.asarray(points, np.float64) - (self.stride - 1) / 2) / self.stride

    def to_pixels(self, cells: np.ndarray) -> np.ndarray:
        """Cell coordinates (..., 2) -> crop pixels."""
        return np.asarray(cells, np.float64) * self.stride + (self.stride - 1) / 2

    def encode(self, points: np.ndarray, labelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Targets for ``points`` (K, 2) crop pixels: heatmaps (K, h, w) and a weight per landmark.

        A landmark counts (weight 1) when it is ``labelled`` and its position lies inside the crop; the
        others get weight 0 and an empty map.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        weight = (np.asarray(labelled, dtype=bool) & inside_crop(points, self.width, self.height)).astype(np.float32)
        cells = self.to_cells(points)
        width, height = self.size
        gx = np.exp(-0.5 * ((np.arange(width)[None, :] - cells[:, 0:1]) / self.sigma) ** 2)
        gy = np.exp(-0.5 * ((np.arange(height)[None, :] - cells[:, 1:2]) / self.sigma) ** 2)
        heatmaps = (gy[:, :, None] * gx[:, None, :]).astype(np.float32) * weight[:, None, None]
        return heatmaps, weight

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (..., K, 2) in crop pixels and scores (..., K) from heatmaps (..., K, h, w)."""
        heat = np.asarray(heatmaps, dtype=np.float64)
        best = heat.reshape(*heat.shape[:-2], -1).argmax(-1)
        y, x = np.divmod(best, heat.shape[-1])
        log_heat = np.log(np.maximum(heat, LOG_FLOOR))
        row = np.take_along_axis(log_heat, y[..., None, None], -2)[..., 0, :]  # (..., K, w) through the peak
        column = np.take_along_axis(log_heat, x[..., None, None], -1)[..., 0]  # (..., K, h)
        cells = np.stack([parabola_peak(row, x), parabola_peak(column, y)], axis=-1)
        peak = np.take_along_axis(heat.reshape(*heat.shape[:-2], -1), best[..., None], -1)[..., 0]
        return self.to_pixels(cells), np.clip(peak, 0.0, 1.0)
