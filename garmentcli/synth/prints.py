"""Printed graphics on garments: a chest print, a small logo or a hip badge, painted in the garment frame.

A decal is a small RGBA image (text or shapes) placed at a garment-frame position and size; it is
looked up with ``cv2.remap`` at each pixel's garment coordinates, so it bends and foreshortens with
the fabric like the pattern does.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import cv2
import numpy as np

from garmentcli.synth.geometry import GarmentShape
from garmentcli.synth.texture import random_colour

DECAL_PX = 96
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)


@dataclass(frozen=True)
class Decal:
    """An RGBA print (float32, alpha 0..1 in the last channel) centred at ``centre_cm``, ``width_cm`` wide."""

    rgba: np.ndarray
    centre_cm: np.ndarray
    width_cm: float


def _artwork(rng: np.random.Generator) -> np.ndarray:
    """Random text or shapes on a transparent square (float32 BGRA)."""
    canvas = np.zeros((DECAL_PX, DECAL_PX, 4), np.uint8)
    colours = [(*(int(v) for v in random_colour(rng, 0.3)), 255) for _ in range(2)]
    if rng.random() < 0.5:
        letters = "".join(rng.choice(list(string.ascii_uppercase), size=int(rng.integers(2, 7))))
        font = _FONTS[int(rng.integers(len(_FONTS)))]
        thickness = int(rng.integers(1, 4))
        (w, h), _ = cv2.getTextSize(letters, font, 1.0, thickness)
        scale = 0.9 * DECAL_PX / max(w, 1)
        origin = (int(0.05 * DECAL_PX), int(DECAL_PX / 2 + h * scale / 2))
        cv2.putText(canvas, letters, origin, font, scale, colours[0], max(1, int(thickness * scale)), cv2.LINE_AA)
    else:
        for _ in range(int(rng.integers(1, 4))):
            centre = tuple(int(v) for v in rng.integers(20, DECAL_PX - 20, 2))
            colour = colours[int(rng.integers(2))]
            if rng.random() < 0.5:
                cv2.circle(canvas, centre, int(rng.integers(8, 36)), colour, -1, cv2.LINE_AA)
            else:
                half = rng.integers(8, 30, 2)
                points = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half + centre
                cv2.fillPoly(canvas, [points.astype(np.int32)], colour, cv2.LINE_AA)
    rgba = canvas.astype(np.float32)
    rgba[..., 3] *= 1 / 255
    return rgba


def sample_decal(shape: GarmentShape, rng: np.random.Generator) -> Decal | None:
    """Maybe a print for this garment: a chest print on closed tops, a logo on outerwear, a badge on bottoms."""
    p = shape.points
    if "armpit_l" in p:
        chest = (p["armpit_l"] + p["armpit_r"]) / 2
        width = float(abs(p["armpit_r"][0] - p["armpit_l"][0]))
        if "hem_open_l" in p:
            if rng.random() > 0.3:
                return None
            return Decal(_artwork(rng), chest + np.array([-0.25 * width, 2.0]), rng.uniform(5, 9))
        if rng.random() > 0.35:
            return None
        return Decal(_artwork(rng), chest + np.array([0.0, rng.uniform(3, 12)]), rng.uniform(0.3, 0.6) * width)
    if rng.random() > 0.15:
        return None
    hip = p["hip_l"] * [0.5, 1.2]
    return Decal(_artwork(rng), hip, rng.uniform(4, 8))


def apply_decal(layer: np.ndarray, coords: np.ndarray, decal: Decal) -> np.ndarray:
    """Paint ``decal`` over the fabric ``layer`` (h, w, 3) at garment-frame ``coords`` (h, w, 2)."""
    scale = DECAL_PX / decal.width_cm
    u = (coords[..., 0] - decal.centre_cm[0]) * scale + DECAL_PX / 2 - 0.5
    v = (coords[..., 1] - decal.centre_cm[1]) * scale + DECAL_PX / 2 - 0.5
    u, v = u.astype(np.float32), v.astype(np.float32)
    looked = cv2.remap(decal.rgba, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = looked[..., 3:] * 0.92
    return layer + (looked[..., :3] - layer) * alpha
