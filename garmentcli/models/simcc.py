"""SimCC landmark coordinates (Li et al., 2022; RTMPose): each landmark as two 1-D classifications, over x and y.

The crop's width and height are cut into ``split_ratio`` bins per pixel; bin ``i`` is centred on pixel
coordinate ``i / split_ratio`` (OpenCV's convention: pixel centres on whole numbers). A landmark's
target on each axis is a Gaussian over the bins centred on its exact position (``sigma`` in bins),
normalised to sum to 1: the network's softmax is trained towards it with a KL divergence, so the
label is smoothed by the Gaussian rather than one-hot.

Decoding takes the arg-max bin of each axis and refines it, within half a bin, to the vertex of the
parabola through the log probabilities of that bin and its two neighbours (the two nearest
inner bins at the ends). The log of a Gaussian is a parabola, so the
position of a Gaussian-shaped prediction is recovered exactly, to a fraction of a bin, not only to
the nearest bin. A landmark's score is the geometric mean of the two axes' peak probabilities, each
divided by the peak of a perfect target (1 when the prediction is as sharp as the target).

Plain numpy: training encodes with it, and the deployed ONNX graph's logits are decoded with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class SimccCodec:
    """Encoder and decoder for a ``width`` x ``height`` crop (pixels)."""

    width: int
    height: int
    split_ratio: float = 2.0
    sigma: tuple[float, float] = (4.9, 5.66)
    """Gaussian width of the x and y targets, in bins (RTMPose's values for a 192 x 256 crop)."""

    @property
    def bins(self) -> tuple[int, int]:
        """Number of x and y bins."""
        return round(self.width * self.split_ratio), round(self.height * self.split_ratio)

    @cached_property
    def _ideal_peak(self) -> tuple[float, float]:
        """Peak probability of a target centred in the crop (what a perfectly sharp prediction reaches)."""
        x, y = self._gaussians(np.array([[self.width / 2, self.height / 2]]))
        return float(x.max()), float(y.max())

    def _gaussians(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        axes = []
        for axis, (count, sigma) in enumerate(zip(self.bins, self.sigma, strict=True)):
            centres = np.arange(count, dtype=np.float64)
            mu = points[:, axis : axis + 1] * self.split_ratio
            target = np.exp(-0.5 * ((centres[None, :] - mu) / sigma) ** 2)
            axes.append(target / np.maximum(target.sum(axis=1, keepdims=True), 1e-12))
        return axes[0], axes[1]

    def encode(self, points: np.ndarray, labelled: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Targets for ``points`` (K, 2) crop pixels: x (K, Wb), y (K, Hb) distributions and a weight per landmark.

        A landmark counts (weight 1) when it is ``labelled`` and its position lies inside the crop; the
        others get weight 0 (their rows are still valid distributions).
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        inside = inside_crop(points, self.width, self.height)
        target_x, target_y = self._gaussians(np.where(inside[:, None], points, 0.0))
        weight = (np.asarray(labelled, dtype=bool) & inside).astype(np.float32)
        return target_x.astype(np.float32), target_y.astype(np.float32), weight

    def decode(self, logits_x: np.ndarray, logits_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (..., K, 2) in crop pixels and scores (..., K) from logits (..., K, Wb) and (..., K, Hb)."""
        coords, peaks = [], []
        for logits, ideal in zip((logits_x, logits_y), self._ideal_peak, strict=True):
            log_p = _log_softmax(np.asarray(logits, dtype=np.float64))
            coords.append(parabola_peak(log_p, np.argmax(log_p, axis=-1)) / self.split_ratio)
            peaks.append(np.minimum(np.exp(log_p.max(axis=-1)) / ideal, 1.0))
        return np.stack(coords, axis=-1), np.sqrt(peaks[0] * peaks[1])


def inside_crop(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which of ``points`` (K, 2) lie inside a ``width`` x ``height`` crop (pixel centres 0 to ``width - 1``)."""
    return (points[:, 0] >= 0) & (points[:, 0] <= width - 1) & (points[:, 1] >= 0) & (points[:, 1] <= height - 1)


def parabola_peak(log_values: np.ndarray, best: np.ndarray) -> np.ndarray:
    """The arg-max ``best`` (...) of profiles ``log_values`` (..., N) refined, within half a step, to the vertex of
    the parabola through the log values there and at its two neighbours (the two nearest inner ones at the ends);
    ``best`` itself where they curve upwards or not at all. Exact for a sampled Gaussian, whose log is a parabola."""
    inner = np.clip(best, 1, log_values.shape[-1] - 2)
    left, mid, right = (np.take_along_axis(log_values, (inner + d)[..., None], -1)[..., 0] for d in (-1, 0, 1))
    curvature = left - 2 * mid + right
    vertex = inner + 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0)
    return np.where(curvature < 0, np.clip(vertex, best - 0.5, best + 0.5), best)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
