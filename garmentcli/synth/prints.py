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

from garmentcli.synth.fabrics import garment_colour
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


_WORDS = (
    "LOVE",
    "NYC",
    "SPORT",
    "BROOKLYN",
    "ORIGINAL",
    "DREAM",
    "COLLEGE",
    "TEAM",
    "SUMMER",
    "WILD",
    "CITY",
    "RUN",
    "ATHLETIC",
    "VINTAGE",
    "PARIS",
    "SURF",
    "CLUB",
    "DEPT",
    "NO.",
    "1987",
    "ROCK",
    "HAPPY",
    "STAR",
    "OCEAN",
)


def _rich_artwork(rng: np.random.Generator, kind: str) -> np.ndarray:
    """Print artwork of the realistic look (float32 BGRA, alpha 0..1): a slogan of one to three lines, a
    graphic of overlapping shapes with a frame, a "photo" (a smooth colour field), or a small logo."""
    side = 2 * DECAL_PX
    canvas = np.zeros((side, side, 4), np.uint8)
    colours = [(*(int(v) for v in garment_colour(rng, 0.3)), 255) for _ in range(3)]
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    if kind == "slogan":
        lines = [str(rng.choice(_WORDS)) for _ in range(int(rng.integers(1, 4)))]
        height = side / (len(lines) + 0.6)
        for row, text in enumerate(lines):
            thickness = int(rng.integers(2, 7))
            (w, h), _ = cv2.getTextSize(text, font, 1.0, thickness)
            scale = min(0.92 * side / max(w, 1), 0.8 * height / max(h, 1))
            x = int((side - w * scale) / 2)
            y = int((row + 0.85) * height + 0.3 * height)
            colour = colours[row % 2 if rng.random() < 0.5 else 0]
            cv2.putText(canvas, text, (x, y), font, scale, colour, max(1, int(thickness * scale)), cv2.LINE_AA)
    elif kind == "photo":
        field = np.zeros((8, 8, 3), np.float32)
        for c in range(3):
            field[..., c] = rng.uniform(0, 255, (8, 8))
        picture = cv2.resize(field, (side, side), interpolation=cv2.INTER_CUBIC)
        picture = np.clip(picture + rng.normal(0, 10, (side, side, 3)).astype(np.float32), 0, 255)
        canvas[..., :3] = picture.astype(np.uint8)
        mask = np.zeros((side, side), np.uint8)
        if rng.random() < 0.5:
            cv2.circle(mask, (side // 2, side // 2), int(side * 0.47), 255, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(mask, (int(side * 0.05), int(side * 0.12)), (int(side * 0.95), int(side * 0.88)), 255, -1)
        canvas[..., 3] = mask
    elif kind == "graphic":
        for _ in range(int(rng.integers(2, 6))):
            colour = colours[int(rng.integers(3))]
            centre = tuple(int(v) for v in rng.integers(side // 5, 4 * side // 5, 2))
            if rng.random() < 0.4:
                cv2.circle(canvas, centre, int(rng.integers(side // 10, side // 3)), colour, -1, cv2.LINE_AA)
            elif rng.random() < 0.5:
                points = rng.integers(side // 8, 7 * side // 8, (3, 2))
                cv2.fillPoly(canvas, [points.astype(np.int32)], colour, cv2.LINE_AA)
            else:
                cv2.line(
                    canvas, tuple(int(v) for v in rng.integers(0, side, 2)), centre, colour, int(rng.integers(6, 24))
                )
        if rng.random() < 0.5:
            text = str(rng.choice(_WORDS))
            (w, h), _ = cv2.getTextSize(text, font, 1.0, 3)
            scale = 0.8 * side / max(w, 1)
            cv2.putText(canvas, text, (int(0.1 * side), int(0.95 * side)), font, scale, colours[0], 3, cv2.LINE_AA)
    else:  # a small logo: a swoosh-like stroke, a shield or initials
        if rng.random() < 0.5:
            t = np.linspace(0, 1, 16)
            points = np.stack([0.1 + 0.8 * t, 0.7 - 0.4 * t**2 + 0.2 * np.sin(3 * t)], axis=1) * side
            cv2.polylines(canvas, [points.astype(np.int32)], False, colours[0], int(side * 0.09), cv2.LINE_AA)
        else:
            letters = "".join(rng.choice(list(string.ascii_uppercase), size=int(rng.integers(1, 4))))
            (w, h), _ = cv2.getTextSize(letters, font, 1.0, 4)
            scale = 0.85 * side / max(w, h * 1.2, 1)
            org = (int((side - w * scale) / 2), int((side + h * scale) / 2))
            cv2.putText(canvas, letters, org, font, scale, colours[0], max(2, int(4 * scale)), cv2.LINE_AA)
    small = cv2.resize(canvas, (DECAL_PX, DECAL_PX), interpolation=cv2.INTER_AREA).astype(np.float32)
    small[..., 3] *= 1 / 255
    return small


def sample_print(shape: GarmentShape, rng: np.random.Generator, chest: float, logo: float) -> Decal | None:
    """Maybe a print of the realistic look: with probability ``chest`` a slogan, graphic or photo print across
    the chest of a closed top (a dress: at the bust), else with probability ``logo`` a small logo (left or
    right chest; on bottoms, at the hip)."""
    p = shape.points
    roll = rng.random()
    if "armpit_l" in p:
        middle = (p["armpit_l"] + p["armpit_r"]) / 2
        width = float(abs(p["armpit_r"][0] - p["armpit_l"][0]))
        if "hem_open_l" not in p and roll < chest:
            kind = str(rng.choice(["slogan", "graphic"]))
            centre = middle + np.array([0.0, rng.uniform(2, 12)])
            return Decal(_rich_artwork(rng, kind), centre, float(rng.uniform(0.35, 0.7) * width))
        if roll < chest + logo:
            centre = middle + np.array([0.25 * width * rng.choice([-1.0, 1.0]), -rng.uniform(0, 5)])
            return Decal(_rich_artwork(rng, "logo"), centre, float(rng.uniform(4, 9)))
        return None
    if roll > logo:
        return None
    hip = p["hip_l"] * [0.5, 1.2]
    return Decal(_rich_artwork(rng, str(rng.choice(["logo", "slogan"]))), hip, float(rng.uniform(4, 9)))
