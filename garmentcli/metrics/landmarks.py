"""Landmark accuracy metrics as pure vectorised functions, in the style of mmpose's ``keypoint_*``.

Every function takes paired arrays: ``pred`` and ``gt`` ``(N, K, 2)`` pixel coordinates,
``mask`` ``(N, K)`` bool (which landmarks count), and where needed ``norm`` ``(N, 2)``, the
per-instance divisor of x and y. Distances are float64 (mmpose keeps float32).

* PCK@t: a landmark is correct when its normalised distance is below ``t``; accuracy is taken per
  landmark type (column), then averaged over the types that have any valid landmark.
* AUC: the mean of PCK over ``t = i / n`` for ``i = 0 .. n-1`` with a fixed pixel ``norm``.
* EPE: mean end-point error in pixels.
* NME: mean normalised distance (NE of FLD with ``norm`` = image width and height; the CSPN
  variant with ``norm`` = the distance between two reference landmarks, on both axes).

A prediction that is missing (an unpaired ground truth) is passed as NaN: it counts as a wrong
landmark in PCK/AUC; leave it out of the mask for EPE/NME, which cannot measure it.
"""

from __future__ import annotations

import numpy as np


def landmark_distances(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """Normalised distances ``(N, K)``; -1 where the mask is False or the instance's norm is not positive."""
    valid = mask & np.all(norm > 0, axis=1)[:, None]
    safe_norm = np.where(norm > 0, norm, 1.0)
    distances = np.linalg.norm((pred - gt) / safe_norm[:, None, :], axis=-1)
    return np.where(valid, distances, -1.0)


def distance_accuracy(distances: np.ndarray, threshold: float) -> tuple[np.ndarray, float, int]:
    """Per-type accuracy ``(K,)`` (-1 for types without valid landmarks), their mean, and how many types count."""
    valid = distances != -1
    counts = valid.sum(axis=0)
    with np.errstate(invalid="ignore"):
        correct = ((distances < threshold) & valid).sum(axis=0)
    per_type = np.where(counts > 0, correct / np.maximum(counts, 1), -1.0)
    counted = per_type[per_type >= 0]
    return per_type, float(counted.mean()) if counted.size else 0.0, int(counted.size)


def pck(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, threshold: float, norm: np.ndarray
) -> tuple[np.ndarray, float, int]:
    """Percentage of correct keypoints: ``(per-type accuracy, mean accuracy, number of types)``."""
    return distance_accuracy(landmark_distances(pred, gt, mask, norm), threshold)


def auc(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_factor: float = 30.0, num_thresholds: int = 20
) -> float:
    """Area under the PCK curve: PCK averaged over ``num_thresholds`` thresholds ``i / num_thresholds``."""
    norm = np.full((pred.shape[0], 2), norm_factor, dtype=np.float64)
    distances = landmark_distances(pred, gt, mask, norm)
    return float(
        sum(distance_accuracy(distances, i / num_thresholds)[1] for i in range(num_thresholds)) / num_thresholds
    )


def epe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Mean end-point error in pixels over the masked landmarks (0 when there are none)."""
    distances = landmark_distances(pred, gt, mask, np.ones((pred.shape[0], 2)))
    valid = distances[distances != -1]
    return float(valid.mean()) if valid.size else 0.0


def nme(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray) -> float:
    """Normalised mean error over the masked landmarks of instances with a positive norm (0 when none)."""
    distances = landmark_distances(pred, gt, mask, norm)
    valid = distances[distances != -1]
    return float(valid.mean()) if valid.size else 0.0
