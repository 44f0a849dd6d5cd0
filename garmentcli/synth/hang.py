"""Hangers and hooks for hung garments (garment frame, cm): drawn behind the garment, except the clips of a
trouser or skirt hanger, which grip the waistband in front of it (the scene passes them to the ground
truth as covers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from garmentcli.synth.figure import ellipse, limb
from garmentcli.synth.geometry import GarmentShape
from garmentcli.synth.texture import _bgr, looks


@dataclass(frozen=True)
class Hanger:
    behind: list[np.ndarray]
    """Closed outlines (cm) drawn before the garment: hook, bar, wall peg."""
    front: list[np.ndarray]
    """Closed outlines (cm) drawn after the garment: clips."""
    colour: np.ndarray
    """BGR."""
    top_y: float
    """Highest point (cm), for framing."""


def _hook(top: np.ndarray, rng: np.random.Generator, width: float) -> tuple[list[np.ndarray], float]:
    """The hook of a hanger rising from ``top``: a stem and a curl."""
    height = rng.uniform(4.0, 7.0)
    radius = rng.uniform(1.8, 2.8)
    side = 1.0 if rng.random() < 0.5 else -1.0
    stem = top + np.array([0.0, -height])
    t = np.linspace(0, 1.25 * np.pi, 10)
    centre = stem + np.array([side * radius, 0.0])
    curl = centre + np.stack([-side * np.cos(t) * radius, -np.sin(t) * radius], axis=1)
    chain = np.vstack([top, curl])
    return limb(chain, np.full(len(chain), width)), float(curl[:, 1].min() - width)


def sample_hanger(shape: GarmentShape, rng: np.random.Generator) -> Hanger:
    """A hanger for a top or dress (hook above the back neck, bar across the shoulders, hidden), a clip hanger
    for trousers, shorts and skirts, or a plain wall peg."""
    p = shape.points
    data = looks()["realistic"]["colours"]["hanger"]
    colour = _bgr(data[int(rng.integers(len(data)))]) + rng.normal(0, 6, 3).astype(np.float32)
    behind: list[np.ndarray] = []
    front: list[np.ndarray] = []
    peg = rng.random() < 0.25
    if "neck_back" in p:
        neck_y = float(min(p["neck_l"][1], p["neck_back"][1]))
        top = np.array([0.0, neck_y + 1.0])
        if peg:
            knob = ellipse(top + np.array([0, -1.6]), (1.3, 1.3), 0, 16)
            behind.append(knob)
            return Hanger(behind, front, colour * 0.8, float(top[1] - 3.2))
        wire = rng.random() < 0.3
        hook, highest = _hook(top, rng, 0.45 if wire else 0.6)
        behind += hook
        reach = abs(p["shoulder_l"][0] if "shoulder_l" in p else p["armpit_l"][0]) * rng.uniform(0.75, 0.92)
        bar = np.array([[-reach, neck_y + 6.5], [-reach * 0.5, neck_y + 3.0], [0, neck_y + 1.8]])
        bar = np.vstack([bar, (bar * [-1, 1])[-2::-1]])
        behind += limb(bar, np.full(len(bar), 0.5 if wire else 2.2))
        return Hanger(behind, front, colour, highest)
    half = abs(float(p["waist_l"][0]))
    if peg:
        knob = ellipse(np.array([0.0, -1.4]), (1.3, 1.3), 0, 16)
        behind.append(knob)
        return Hanger(behind, front, colour * 0.8, -3.0)
    bar_y = -rng.uniform(3.0, 4.5)
    bar = np.array([[-half - 2.0, bar_y], [half + 2.0, bar_y]])
    behind += limb(bar, np.full(2, 1.4))
    hook, highest = _hook(np.array([0.0, bar_y]), rng, 0.5)
    behind += hook
    inset = rng.uniform(2.5, 5.0)
    for side in (-1.0, 1.0):
        x = side * (half - inset)
        clip = np.array([[x - 1.1, bar_y - 0.8], [x + 1.1, bar_y - 0.8], [x + 1.1, 1.6], [x - 1.1, 1.6]])
        front.append(clip)
    return Hanger(behind, front, colour, highest)
