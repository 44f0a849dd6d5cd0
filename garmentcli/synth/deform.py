"""Smooth non-rigid deformation and placement of a flat garment on the table plane.

A :class:`Warp` maps garment-frame points (cm) to table-plane points (cm): a near-identity affine
(slight asymmetry), a sum of Gaussian displacement bumps (the garment pushed and pulled as it was
laid down), a low ripple along the edges, then a rotation and translation. The same map moves the
landmarks and the dense outlines, so landmarks stay exactly on the deformed outline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Warp:
    """Garment frame -> table plane."""

    affine: np.ndarray
    """(2, 2) near-identity linear part applied first."""
    centres: np.ndarray
    """(N, 2) bump centres (cm)."""
    bumps: np.ndarray
    """(N, 2) bump displacement vectors (cm)."""
    widths: np.ndarray
    """(N,) bump radii (cm)."""
    ripple_k: np.ndarray
    """(M, 2) ripple wave vectors (rad/cm)."""
    ripple_amp: np.ndarray
    """(M, 2) ripple displacement amplitudes (cm)."""
    ripple_phase: np.ndarray
    """(M,) ripple phases."""
    rotation_deg: float = 0.0
    translation: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def rotation(self) -> np.ndarray:
        a = np.deg2rad(self.rotation_deg)
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])

    def displacement(self, points: np.ndarray) -> np.ndarray:
        """The non-rigid displacement (cm) at garment-frame points ``(..., 2)``."""
        diff = points[..., None, :] - self.centres
        weight = np.exp(-(diff**2).sum(-1) / (2 * self.widths**2))
        moved = weight @ self.bumps
        phase = points @ self.ripple_k.T + self.ripple_phase
        return moved + np.sin(phase) @ self.ripple_amp

    def local(self, points: np.ndarray) -> np.ndarray:
        """Garment frame -> deformed garment frame (before rotation and translation)."""
        return points @ self.affine.T + self.displacement(points)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Garment frame -> table plane (cm)."""
        return self.local(points) @ self.rotation.T + self.translation

    def invert_approx(self, table_points: np.ndarray) -> np.ndarray:
        """Table plane -> garment frame, to within a fraction of the displacement (good for textures)."""
        local = (table_points - self.translation) @ self.rotation
        inverse = np.linalg.inv(self.affine)
        guess = local @ inverse.T
        return (local - self.displacement(guess)) @ inverse.T

    def placed(self, rotation_deg: float, translation: np.ndarray) -> Warp:
        return replace(self, rotation_deg=rotation_deg, translation=np.asarray(translation, dtype=np.float64))


def random_warp(outline: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> Warp:
    """A random smooth deformation scaled to the garment's size (``strength`` 0 gives the identity)."""
    lo, hi = outline.min(axis=0), outline.max(axis=0)
    size = float(np.max(hi - lo))
    count = 5
    centres = rng.uniform(lo, hi, size=(count, 2))
    bumps = rng.normal(0.0, 0.022 * size * strength, size=(count, 2))
    widths = rng.uniform(0.18, 0.45, size=count) * size
    waves = 2
    direction = rng.uniform(0, 2 * np.pi, size=waves)
    wavelength = rng.uniform(5.0, 14.0, size=waves)
    ripple_k = np.stack([np.cos(direction), np.sin(direction)], axis=1) * (2 * np.pi / wavelength)[:, None]
    ripple_amp = rng.normal(0.0, 0.18 * strength, size=(waves, 2))
    affine = np.eye(2) + rng.normal(0.0, 0.025 * strength, size=(2, 2))
    return Warp(affine, centres, bumps, widths, ripple_k, ripple_amp, rng.uniform(0, 2 * np.pi, size=waves))
