"""Fabric and surface looks: small periodic texture tiles sampled at table or garment coordinates.

A pattern is a tile (a few dozen pixels covering ``tile_cm`` of fabric) looked up with
``cv2.remap`` at every pixel's garment-frame coordinates, so stripes and checks follow the
garment's placement and the camera's perspective at the cost of one remap per garment.
Colours are handled as BGR float32 in 0..255.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import cv2
import numpy as np

TILE_PX = 64
NOISE_SIDE = 1024
"""Side of the bank of Gaussian noise that fabric grain and sensor noise are cut from."""


@cache
def looks() -> dict[str, Any]:
    """The bundled ``appearance.json``, parsed once."""
    return json.loads(resources.files("garmentcli.synth").joinpath("appearance.json").read_text("utf-8"))


def pick(weights: dict[str, float], rng: np.random.Generator) -> str:
    """A key drawn with the given weights."""
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _bgr(rgb: Any) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32)[::-1].copy()


@cache
def _noise_bank() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((NOISE_SIDE, NOISE_SIDE), dtype=np.float32)


def noise_patch(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Standard Gaussian noise ``(height, width)`` float32: a random window of a fixed bank (fast, seeded)."""
    bank = _noise_bank()
    y0, x0 = (int(v) for v in rng.integers(0, NOISE_SIDE, 2))
    if y0 + height <= NOISE_SIDE and x0 + width <= NOISE_SIDE:
        return bank[y0 : y0 + height, x0 : x0 + width]
    rows = (y0 + np.arange(height)) % NOISE_SIDE
    cols = (x0 + np.arange(width)) % NOISE_SIDE
    return bank[np.ix_(rows, cols)]


def random_colour(rng: np.random.Generator, neutral_probability: float | None = None) -> np.ndarray:
    """A garment colour: a neutral from the palette or a random hue, slightly jittered (BGR)."""
    data = looks()
    probability = data["neutral_probability"] if neutral_probability is None else neutral_probability
    if rng.random() < probability:
        palette = data["neutral_colours"]
        base = _bgr(palette[int(rng.integers(len(palette)))])
    else:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(50, 250)]]])
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    return np.clip(base + rng.normal(0, 8, 3), 0, 255).astype(np.float32)


def contrasting(colour: np.ndarray, other: np.ndarray, dark: float = 0.35, light: float = 0.3) -> np.ndarray:
    """``other`` as a second colour beside ``colour`` (stripes, checks, prints); when the two are too alike,
    a shade of ``colour`` instead: ``dark`` times it for a light colour, ``light`` of the way from white for a dark
    one."""
    if np.abs(other - colour).sum() < 120:
        other = np.where(colour.mean() > 127, colour * dark, 255 - (255 - colour) * light)
    return other.astype(np.float32)


def periodic_noise(size: int, rng: np.random.Generator, max_frequency: int = 4, waves: int = 12) -> np.ndarray:
    """A smooth random field on a ``size`` x ``size`` torus (it tiles without seams), about ``[-1, 1]``."""
    frequencies = rng.integers(-max_frequency, max_frequency + 1, size=(waves, 2))
    frequencies[np.all(frequencies == 0, axis=1)] = 1
    phases = rng.uniform(0, 2 * np.pi, waves)
    grid = np.arange(size, dtype=np.float32) * (2 * np.pi / size)
    field = sum(
        np.cos(fx * grid[None, :] + fy * grid[:, None] + phase)
        for (fx, fy), phase in zip(frequencies, phases, strict=True)
    )
    return (field / np.sqrt(waves / 2)).astype(np.float32)


def _stripe_rows(duty: float) -> np.ndarray:
    rows = (np.arange(TILE_PX) + 0.5) / TILE_PX
    return (rows < duty).astype(np.float32)


def _tile(kind: str, base: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One period of a pattern, ``(TILE_PX, TILE_PX, 3)`` float32 BGR."""
    if kind == "stripes":
        band = np.repeat(_stripe_rows(rng.uniform(0.2, 0.6))[:, None], TILE_PX, axis=1)
    elif kind == "checks":
        rows = _stripe_rows(rng.uniform(0.3, 0.55))
        band = 0.5 * (rows[:, None] + rows[None, :])
    elif kind == "dots":
        canvas = np.zeros((4 * TILE_PX, 4 * TILE_PX), np.uint8)
        cv2.circle(canvas, (2 * TILE_PX, 2 * TILE_PX), int(4 * TILE_PX * rng.uniform(0.12, 0.3)), 255, -1, cv2.LINE_AA)
        band = cv2.resize(canvas, (TILE_PX, TILE_PX), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    elif kind == "denim":
        i, j = np.mgrid[0:TILE_PX, 0:TILE_PX]
        band = 0.5 + 0.5 * np.sin((i + j) * (2 * np.pi / 8)).astype(np.float32)
        band = 0.55 * band + 0.45 * rng.random((TILE_PX, TILE_PX)).astype(np.float32)
        second = np.clip(base * 1.45 + 25, 0, 255)
    elif kind == "camo":
        field = periodic_noise(TILE_PX, rng, 3)
        levels = np.digitize(field, [-0.5, 0.3])
        tones = np.stack([base, second, (base + second) / 2])
        return tones[levels].astype(np.float32)
    else:
        return np.broadcast_to(base, (TILE_PX, TILE_PX, 3)).astype(np.float32)
    band = band[..., None]
    return (base * (1 - band) + second * band).astype(np.float32)


@dataclass
class Look:
    """How one garment looks: pattern tile, colours of its parts, fabric grain and folds."""

    tile: np.ndarray
    tile_cm: float
    pattern_angle_deg: float
    base: np.ndarray
    trim: np.ndarray
    """Colour of bands (collar, cuffs, waistband) and of stitching."""
    lining: np.ndarray
    """Colour of the visible inside of the back."""
    grain: float
    """Standard deviation of the per-pixel fabric grain."""
    pattern: str


def sample_look(rng: np.random.Generator, bottoms: bool) -> Look:
    """A random look; bottoms favour denim and solids."""
    data = looks()
    kind = pick(data["bottom_patterns" if bottoms else "patterns"], rng)
    if kind == "denim":
        palette = data["denim_colours"]
        base = _bgr(palette[int(rng.integers(len(palette)))]) + rng.normal(0, 6, 3).astype(np.float32)
    else:
        base = random_colour(rng)
    second = contrasting(base, random_colour(rng, 0.5))
    tile_cm = {
        "stripes": rng.uniform(0.6, 5.0),
        "checks": rng.uniform(1.0, 8.0),
        "dots": rng.uniform(1.0, 5.0),
        "denim": rng.uniform(0.8, 1.6),
        "camo": rng.uniform(20.0, 45.0),
    }.get(kind, 10.0)
    angle = float(rng.choice([0.0, 0.0, 90.0, 45.0])) if kind in ("stripes", "checks") else 0.0
    trim = np.clip(base * rng.uniform(0.7, 1.25) + rng.normal(0, 10, 3), 0, 255).astype(np.float32)
    if rng.random() < 0.3:
        trim = second.copy()
    lining = np.clip(base * rng.uniform(0.45, 0.75), 0, 255).astype(np.float32)
    return Look(
        _tile(kind, base, second, rng), float(tile_cm), angle, base, trim, lining, float(rng.uniform(1.5, 7.0)), kind
    )


def sample_tile(tile: np.ndarray, coords: np.ndarray, tile_cm: float, angle_deg: float = 0.0) -> np.ndarray:
    """Look a periodic tile up at ``coords`` (h, w, 2) in cm; the tile covers ``tile_cm``, turned by ``angle_deg``."""
    a = np.deg2rad(angle_deg)
    scale = tile.shape[0] / tile_cm
    u = (coords[..., 0] * np.cos(a) + coords[..., 1] * np.sin(a)) * scale
    v = (-coords[..., 0] * np.sin(a) + coords[..., 1] * np.cos(a)) * scale
    return cv2.remap(tile, u.astype(np.float32), v.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def paint(look: Look, coords: np.ndarray) -> np.ndarray:
    """The garment's fabric at garment-frame ``coords`` (h, w, 2): ``(h, w, 3)`` float32 BGR."""
    if look.pattern == "solid" or look.pattern == "heather":
        layer = np.broadcast_to(look.base, (*coords.shape[:2], 3)).astype(np.float32)
    else:
        layer = sample_tile(look.tile, coords, look.tile_cm, look.pattern_angle_deg)
    return layer


def _surface_tile(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    data = looks()
    colours = data["wood_colours"] if kind == "wood" else data["surface_colours"]
    base = _bgr(colours[int(rng.integers(len(colours)))]) + rng.normal(0, 8, 3).astype(np.float32)
    if kind == "printed":  # a bedsheet, rug or tablecloth: a fabric pattern, muted
        pattern = str(rng.choice(["stripes", "checks", "dots", "camo"]))
        tile = _tile(pattern, base, (base + random_colour(rng, 0.5)) / 2, rng)
        return tile, float(rng.uniform(4, 30))
    if kind == "wood":
        i = np.arange(TILE_PX, dtype=np.float32)[:, None]
        warp = periodic_noise(TILE_PX, rng, 2) * 2.5 + periodic_noise(TILE_PX, rng, 6) * 0.5
        grain = 0.5 + 0.5 * np.sin((i + warp) * (2 * np.pi / int(rng.choice([8, 16, 32]))))
        grain = grain**3 + 0.15 * rng.random((TILE_PX, TILE_PX)).astype(np.float32)
        return (base * (1.08 - 0.3 * grain[..., None])).astype(np.float32), float(rng.uniform(25, 60))
    if kind == "fabric":
        i, j = np.mgrid[0:TILE_PX, 0:TILE_PX]
        weave = (np.sin(i * np.pi / 2) * np.sin(j * np.pi / 2)).astype(np.float32)
        weave += 0.6 * rng.standard_normal((TILE_PX, TILE_PX)).astype(np.float32)
        return (base * (1 + 0.05 * weave[..., None])).astype(np.float32), float(rng.uniform(2, 6))
    if kind == "tiles":
        tile = np.broadcast_to(base, (TILE_PX, TILE_PX, 3)).astype(np.float32).copy()
        tile[:2] *= 0.75
        tile[:, :2] *= 0.75
        return tile, float(rng.uniform(15, 40))
    noise = periodic_noise(TILE_PX, rng, 8) * 0.02 + 0.01 * rng.standard_normal((TILE_PX, TILE_PX))
    return (base * (1 + noise[..., None])).astype(np.float32), float(rng.uniform(20, 50))


def surface(
    homography: np.ndarray,
    window: tuple[int, int, int, int],
    rng: np.random.Generator,
    kind: str | None = None,
) -> np.ndarray:
    """A table or floor seen through ``homography`` over the image window ``(x0, y0, width, height)``.

    Wood, fabric, paper, tiles, plain or gradient: a surface tile laid on the table plane and
    warped into the picture in one perspective warp (float32 BGR).
    """
    kind = kind or pick(looks()["backgrounds"], rng)
    tile, tile_cm = _surface_tile("paper" if kind == "paper" else "plain" if kind == "gradient" else kind, rng)
    turn = np.deg2rad(rng.uniform(0, 180)) if kind == "wood" else 0.0
    scale = TILE_PX / tile_cm
    to_tile = np.array([[np.cos(turn), np.sin(turn), 0], [-np.sin(turn), np.cos(turn), 0], [0, 0, 1]]) * [
        scale,
        scale,
        1,
    ]
    x0, y0, width, height = window
    shift = np.array([[1.0, 0, x0], [0, 1, y0], [0, 0, 1]])
    matrix = to_tile @ np.linalg.inv(homography) @ shift
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    tile = np.clip(tile, 0, 255).astype(np.uint8)  # warping bytes is four times lighter than floats
    layer = cv2.warpPerspective(tile, matrix, (width, height), flags=flags, borderMode=cv2.BORDER_WRAP)
    layer = layer.astype(np.float32)
    if kind == "gradient":
        ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :] * rng.uniform(-0.25, 0.25)
        ramp = ramp + np.linspace(-1, 1, height, dtype=np.float32)[:, None] * rng.uniform(-0.25, 0.25)
        layer *= 1 + ramp[..., None]
    return layer
