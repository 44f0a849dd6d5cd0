"""Drawing a scene: garments with fabric, details, folds and soft shadows; lighting and camera effects.

Every garment is drawn inside its own window of the image. Masks are filled from the projected
dense outlines with 4 fractional bits and anti-aliasing, so the mask boundary follows the true
outline to a fraction of a pixel; fabric comes from :mod:`garmentcli.synth.texture` looked up at
each pixel's garment-frame coordinates, so patterns and folds follow placement and perspective.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from garmentcli.synth.camera import pixel_plane_coords, project
from garmentcli.synth.deform import Warp
from garmentcli.synth.details import Stroke
from garmentcli.synth.fabrics import Extras, Relief, paint_extras, relief_shading
from garmentcli.synth.prints import Decal, apply_decal
from garmentcli.synth.texture import Look, noise_patch, paint

SHIFT = 4
"""Fractional bits of polygon vertices handed to OpenCV's fill (1/16 px)."""
LIGHT_GRID = 9
"""Side of the coarse grid the lighting field is computed on before resizing to the image."""
SUPERSAMPLE = 4
"""Sub-pixel grid of garment masks (per axis)."""


@dataclass
class PlacedGarment:
    """A garment laid on the table and seen by the camera."""

    category_id: int
    landmarks_cm: np.ndarray
    """(K, 2) table-plane positions."""
    landmarks_px: np.ndarray
    silhouette_px: np.ndarray
    """The outline through every landmark (its extent is the garment's; self-crossing when a sleeve is folded)."""
    parts_px: list[tuple[np.ndarray, tuple[int, ...], str]]
    """The pieces as drawn, in order: outline (px), the landmarks on it, the piece's name."""
    inner_px: np.ndarray | None
    warp: Warp
    strokes: list[Stroke]
    look: Look
    decal: Decal | None = None
    folded: bool = False
    """A sleeve lies over or under the body: the pieces are drawn one by one."""
    extras: Extras | None = None
    """Realistic look: tone field and colour block (None: the flat-lay-v1 look)."""
    relief: Relief | None = None
    """Realistic look: the wrinkles shading the fabric (None: flat-lay-v1's straight folds)."""
    hole_px: np.ndarray | None = None
    """Worn: the neck opening or open front, a hole in the garment through which what lies beneath shows."""
    behind_body: tuple[int, ...] = ()
    """Worn: landmarks on the back of the garment hidden by the wearer (the back neck point, behind the neck)."""


@dataclass(frozen=True)
class Window:
    """A rectangle of the image: ``x0, y0`` its top-left pixel, ``width, height`` its size."""

    x0: int
    y0: int
    width: int
    height: int

    @classmethod
    def around(cls, points: np.ndarray, image_shape: tuple[int, ...], pad: int = 2) -> Window | None:
        """The window covering ``points`` (px) plus ``pad``, clipped to the image; None when outside."""
        h, w = image_shape[:2]
        x0, y0 = np.maximum(np.floor(points.min(axis=0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(points.max(axis=0)).astype(int) + pad + 1, [w, h])
        return cls(int(x0), int(y0), int(x1 - x0), int(y1 - y0)) if x1 > x0 and y1 > y0 else None

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y0 + self.height), slice(self.x0, self.x0 + self.width)


def fixed_point(points_px: np.ndarray, window: Window) -> np.ndarray:
    """Polygon vertices relative to a window, as OpenCV fixed-point int32."""
    return np.round((points_px - [window.x0, window.y0]) * (1 << SHIFT)).astype(np.int32)


def polygon_alpha(points_px: np.ndarray, window: Window) -> np.ndarray:
    """Coverage (float32 0..1) of a closed polygon over a window, by 4x4 supersampling.

    OpenCV's fill (anti-aliased or not) grows a polygon by about half a pixel; filling at four
    times the resolution and area-averaging down cuts that bias to an eighth of a pixel.
    """
    s = SUPERSAMPLE
    fine = np.zeros((window.height * s, window.width * s), np.uint8)
    points = ((points_px - [window.x0, window.y0] + 0.5) * s - 0.5) * (1 << SHIFT)
    cv2.fillPoly(fine, [np.round(points).astype(np.int32)], 255, cv2.LINE_8, SHIFT)
    coverage = cv2.resize(fine, (window.width, window.height), interpolation=cv2.INTER_AREA)
    return coverage.astype(np.float32) * (1 / 255)


def garment_coords(homography: np.ndarray, warp: Warp, window: Window, stride: int = 4) -> np.ndarray:
    """Garment-frame cm of every pixel centre of a window, ``(h, w, 2)`` float32.

    The map (inverse camera, inverse placement, inverse deformation) is smooth, so it is computed
    every ``stride`` pixels and interpolated bilinearly in between.
    """
    cols, rows = window.width // stride + 2, window.height // stride + 2
    coarse = pixel_plane_coords(homography, 0, 0, cols, rows, origin=(window.x0, window.y0), step=stride)
    coarse = warp.invert_approx(coarse).astype(np.float32)
    map_x = np.broadcast_to(np.arange(window.width, dtype=np.float32) / stride, (window.height, window.width))
    map_y = np.broadcast_to(np.arange(window.height, dtype=np.float32)[:, None] / stride, (window.height, window.width))
    return cv2.remap(coarse, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), cv2.INTER_LINEAR)


def _stroke_masks(
    strokes: list[Stroke], warp: Warp, homography: np.ndarray, window: Window, px_per_cm: float
) -> dict[str, np.ndarray]:
    masks: dict[str, np.ndarray] = {}
    for stroke in strokes:
        mask = masks.setdefault(stroke.role, np.zeros((window.height, window.width), np.uint8))
        points = fixed_point(project(homography, warp.apply(stroke.points)), window)
        width = max(1, round(stroke.width_cm * px_per_cm))
        if stroke.role == "button":
            for point in points:
                cv2.circle(mask, tuple(int(v) for v in point), max(1, width // 2) << SHIFT, 255, -1, cv2.LINE_AA, SHIFT)
        elif stroke.role in ("stitch", "zip"):
            dash = 3 if stroke.role == "stitch" else 1
            pieces = [points[i : i + dash + 1] for i in range(0, len(points) - 1, 2 * dash)]
            cv2.polylines(mask, pieces, False, 255, width, cv2.LINE_AA, SHIFT)
        else:
            cv2.polylines(mask, [points], False, 255, width, cv2.LINE_AA, SHIFT)
    return {role: mask.astype(np.float32) * (1 / 255) for role, mask in masks.items()}


def _folds(coords: np.ndarray, rng: np.random.Generator, size_cm: float) -> np.ndarray:
    """Shading of folds and wrinkles at garment-frame coords: ridges with a lit and a shaded side."""
    shade = np.ones(coords.shape[:2], np.float32)
    for _ in range(int(rng.integers(2, 8))):
        angle = rng.uniform(0, np.pi)
        normal = np.array([np.cos(angle), np.sin(angle)], np.float32)
        offset = float(rng.uniform(-0.5, 0.5) * size_cm)
        width = float(rng.uniform(0.6, 3.5))
        t = (coords @ normal - offset) / width
        shade += float(rng.uniform(0.05, 0.22)) * t * np.exp(-t * t)
    return shade


def draw_garment(
    image: np.ndarray, homography: np.ndarray, garment: PlacedGarment, px_per_cm: float, rng: np.random.Generator
) -> None:
    """Paint one garment over the float32 BGR ``image`` in place."""
    window = Window.around(garment.silhouette_px, image.shape)
    if window is None:
        return
    if garment.folded:
        alphas = [polygon_alpha(outline, window) for outline, _, _ in garment.parts_px]
        names = [name for _, _, name in garment.parts_px]
        first_above = names.index("body") + 1
        above = np.maximum.reduce(alphas[first_above:]) if first_above < len(alphas) else None
    else:  # the pieces only meet along seams: the outline through every landmark bounds their union
        alphas, above = [polygon_alpha(garment.silhouette_px, window)], None
    alpha = np.maximum.reduce(alphas)
    if garment.hole_px is not None:
        alpha = alpha * (1 - polygon_alpha(garment.hole_px, window))
    coords = garment_coords(homography, garment.warp, window)
    look = garment.look
    layer = paint(look, coords)
    if garment.extras is not None:
        layer = paint_extras(layer, coords, garment.extras)
    if garment.decal is not None:
        layer = apply_decal(layer, coords, garment.decal)
    masks = _stroke_masks(garment.strokes, garment.warp, homography, window, px_per_cm)
    if "trim" in masks:
        layer = layer + (look.trim - layer) * _below(masks["trim"], above)[..., None]
    if garment.inner_px is not None and garment.hole_px is None:
        inner = _below(polygon_alpha(garment.inner_px, window), above)[..., None]
        layer = layer + (look.lining - layer) * inner
    for role, tone in (("stitch", 0.6), ("zip", 0.35), ("button", 0.5)):
        if role in masks:
            colour = look.trim * tone if look.base.mean() > 90 else np.minimum(look.trim * 1.8 + 40, 255)
            layer = layer + (colour - layer) * _below(masks[role], above)[..., None]
    if "seam" in masks:  # a sewn seam (realistic look): a fine shadowed line in the fabric itself
        layer = layer * (1 - 0.3 * _below(masks["seam"], above))[..., None]
    if garment.relief is not None:
        shade = relief_shading(coords, garment.relief)
    else:
        shade = _folds(coords, rng, float(np.ptp(garment.landmarks_cm, axis=0).max()))
    inside = (alpha > 0.5).astype(np.uint8)
    edge = cv2.distanceTransform(cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0), cv2.DIST_L2, 3)
    edge = edge[1:-1, 1:-1] / max(1.5 * px_per_cm, 1.0)
    shade *= 0.82 + 0.18 * np.minimum(edge, 1.0)
    for k in range(1, len(alphas)):  # a piece lying on another darkens it along its edge
        spread = cv2.GaussianBlur(alphas[k], (0, 0), max(0.4 * px_per_cm, 0.8))
        shade *= 1 - 0.35 * np.clip(spread - alphas[k], 0, 1) * np.maximum.reduce(alphas[:k])
    grain = noise_patch(rng, window.height, window.width)[..., None] * np.float32(look.grain)
    layer = layer * shade[..., None] + grain
    roi = image[window.slices]
    roi += (layer - roi) * alpha[..., None]


def _below(mask: np.ndarray, above: np.ndarray | None) -> np.ndarray:
    """``mask`` where no piece drawn above the body hides it."""
    return mask if above is None else mask * (1 - above)


def cast_shadow(
    image: np.ndarray, outlines_px: list[np.ndarray], offset_px: np.ndarray, blur_px: float, strength: float
) -> None:
    """Darken the ``image`` in place under a soft, offset copy of an object's outlines (quarter resolution)."""
    moved = [outline + offset_px for outline in outlines_px]
    window = Window.around(np.concatenate(moved), image.shape, pad=int(3 * blur_px) + 4)
    if window is None:
        return
    h, w = window.height, window.width
    small = np.zeros(((h + 3) // 4, (w + 3) // 4), np.float32)
    for outline in moved:
        points = np.round(((outline - [window.x0, window.y0] + 0.5) / 4 - 0.5) * (1 << SHIFT)).astype(np.int32)
        cv2.fillPoly(small, [points], 1.0, cv2.LINE_8, SHIFT)
    small = cv2.GaussianBlur(small, (0, 0), max(blur_px / 4, 0.5))
    shadow = cv2.resize(small, (4 * small.shape[1], 4 * small.shape[0]), interpolation=cv2.INTER_LINEAR)[:h, :w]
    image[window.slices] *= (1 - strength * shadow)[..., None]


def finish_photo(image: np.ndarray, rng: np.random.Generator, params: dict, effects: bool) -> np.ndarray:
    """Lighting, colour cast, blur and sensor noise; returns uint8 BGR."""
    if effects:
        h, w = image.shape[:2]
        ys, xs = np.mgrid[0:LIGHT_GRID, 0:LIGHT_GRID].astype(np.float32) / (LIGHT_GRID - 1) - 0.5
        direction = rng.uniform(0, 2 * np.pi)
        light = 1 + rng.uniform(*params["light_gradient"]) * (np.cos(direction) * xs + np.sin(direction) * ys)
        light -= rng.uniform(*params["vignette"]) * (xs * xs + ys * ys)
        gains = (1 + rng.uniform(-params["colour_cast"], params["colour_cast"], 3)) * rng.uniform(0.85, 1.12)
        light = cv2.resize(light[..., None] * gains.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        image *= light
        if rng.random() < params["blur_probability"]:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(*params["blur_sigma_px"]))
        image += noise_patch(rng, h, w)[..., None] * np.float32(rng.uniform(*params["noise_sigma"]))
    return np.clip(image, 0, 255, out=image).astype(np.uint8)
