"""Backgrounds of the realistic look: what real phone photos of garments lie on or hang in front of.

Beds (sheets and duvets with soft folds, some printed or quilted), carpets and rugs, wood floors
(planks with grain, joints and gaps), tiled floors (square or diagonal, grout, marble veins),
plain tables, and walls (plain paint, a door or wardrobe edge, a skirting board and floor below)
for hung garments and worn figures. Each is a seamless tile laid on the plane and warped by the
camera's homography (so it has the scene's perspective), plus smooth fields for folds.
"""

from __future__ import annotations

import cv2
import numpy as np

from garmentcli.synth.camera import pixel_plane_coords, project
from garmentcli.synth.fabrics import (
    _heather,
    _motifs,
    _plaid,
    _stripes,
    relief_shading,
    sample_relief,
    smooth_noise,
    wrap_blur,
)
from garmentcli.synth.render import Window
from garmentcli.synth.texture import _bgr, looks, pick

ROOM_PX = 256


def _colour(name: str, rng: np.random.Generator, jitter: float = 8.0) -> np.ndarray:
    palette = looks()["realistic"]["colours"][name]
    return _bgr(palette[int(rng.integers(len(palette)))]) + rng.normal(0, jitter, 3).astype(np.float32)


def _fibres(rng: np.random.Generator, blur: float, stretch: float = 1.0) -> np.ndarray:
    """Seamless fine noise (unit variance) for fibres and grain."""
    noise = rng.standard_normal((ROOM_PX, ROOM_PX)).astype(np.float32)
    noise = wrap_blur(noise, blur * stretch, blur)
    return noise / (noise.std() + 1e-6)


def _wood(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Planks along x: per-plank tone, grain streaks, dark gaps between rows and at the butt joints."""
    base = _colour("wood", rng)
    rows = int(rng.choice([3, 4, 5, 6]))
    plank_px = ROOM_PX // rows
    y, x = np.mgrid[0:ROOM_PX, 0:ROOM_PX].astype(np.float32)
    row = (y // plank_px).astype(int)
    tone = 1 + rng.normal(0, 0.07, rows + 1).astype(np.float32)
    offsets = rng.uniform(0, ROOM_PX, rows + 1).astype(np.float32)
    pieces = int(rng.choice([1, 1, 2, 4]))
    lines = float(rng.uniform(1.5, 4.0))  # growth rings across a plank
    wobble = smooth_noise(ROOM_PX, rng, 6) * 1.8 + smooth_noise(ROOM_PX, rng, 18) * 0.4
    phase = rng.uniform(0, 2 * np.pi, rows + 1).astype(np.float32)
    rings = 0.5 + 0.5 * np.sin((y % plank_px) / plank_px * 2 * np.pi * lines + wobble + phase[row])
    grain = 0.5 * rings**4 + 0.5 * np.clip(0.5 + 0.25 * _fibres(rng, 0.7, 30.0), 0, 1)
    contrast = float(rng.uniform(0.12, 0.3))
    shade = tone[row] * (1 - contrast * grain)
    gap = (y % plank_px) < 1.2
    joint = ((x + offsets[row]) % (ROOM_PX / pieces)) < 1.2
    shade = np.where(gap | joint, shade * 0.55, shade)
    return (base * shade[..., None]).astype(np.float32), float(rows * rng.uniform(9, 20))


def _tiles(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Two by two ceramic tiles: tone per tile, marble veins, grout lines."""
    base = _colour("tile", rng)
    y, x = np.mgrid[0:ROOM_PX, 0:ROOM_PX].astype(np.float32)
    half = ROOM_PX // 2
    cell = (y // half).astype(int) * 2 + (x // half).astype(int)
    tone = 1 + rng.normal(0, 0.03, 4).astype(np.float32)
    shade = tone[cell]
    if rng.random() < 0.5:
        veins = np.abs(smooth_noise(ROOM_PX, rng, 8) + 0.3 * smooth_noise(ROOM_PX, rng, 24))
        shade = shade * (1 - 0.12 * np.exp(-veins * 12))
    shade = shade * (1 + 0.015 * _fibres(rng, 1.0))
    grout_px = max(1.0, ROOM_PX * float(rng.uniform(0.004, 0.012)))
    grout = ((y % half) < grout_px) | ((x % half) < grout_px)
    tile = base * shade[..., None]
    grout_colour = base * rng.uniform(0.55, 0.9) if rng.random() < 0.7 else np.full(3, 230.0, np.float32)
    tile = np.where(grout[..., None], grout_colour, tile)
    return wrap_blur(tile.astype(np.float32), 0.7), float(2 * rng.uniform(20, 60))


def _carpet(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A shaggy or low-pile carpet: fibre noise over soft blotches."""
    base = _colour("carpet", rng)
    fibres = _fibres(rng, float(rng.uniform(0.5, 1.2)))
    blotch = smooth_noise(ROOM_PX, rng, 12)
    shade = 1 + float(rng.uniform(0.06, 0.16)) * fibres + 0.04 * blotch
    return (base * shade[..., None]).astype(np.float32), float(rng.uniform(20, 45))


def _rug(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A patterned rug or play mat: a bold pattern with fibres."""
    base = _colour("rug", rng)
    kind = str(rng.choice(["stripes", "plaid", "motifs"]))
    if kind == "stripes":
        tile = _stripes(base, rng)
    elif kind == "plaid":
        tile = _plaid(base, rng)
    else:
        tile = _motifs(base, rng, True)
    tile = cv2.resize(tile, (ROOM_PX, ROOM_PX), interpolation=cv2.INTER_LINEAR)
    shade = 1 + 0.1 * _fibres(rng, 0.8)
    return (tile * shade[..., None]).astype(np.float32), float(rng.uniform(40, 120))


def _sheet(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Bed linen: plain cotton, a print, stripes, or a quilted duvet."""
    base = _colour("bed", rng)
    kind = pick(looks()["realistic"]["bed_kinds"], rng)
    if kind == "print":
        tile = cv2.resize(_motifs(base, rng, bool(rng.random() < 0.5)), (ROOM_PX, ROOM_PX))
        tile_cm = float(rng.uniform(25, 70))
    elif kind == "stripes":
        tile = cv2.resize(_stripes(base, rng), (ROOM_PX, ROOM_PX))
        tile_cm = float(rng.uniform(30, 80))
    elif kind == "quilted":
        y, x = np.mgrid[0:ROOM_PX, 0:ROOM_PX].astype(np.float32)
        cells = int(rng.choice([2, 3, 4]))
        period = ROOM_PX / cells
        d1, d2 = (x + y) % period, (x - y) % period
        seam = np.minimum(np.minimum(d1, period - d1), np.minimum(d2, period - d2))
        puff = 0.93 + 0.07 * np.minimum(seam / (0.25 * period), 1)
        tile = base * puff[..., None]
        tile_cm = float(cells * rng.uniform(8, 16))
    else:
        tile = _heather(base, rng) * 0.3 + base * 0.7
        tile = cv2.resize(tile, (ROOM_PX, ROOM_PX))
        tile_cm = float(rng.uniform(10, 20))
    return tile.astype(np.float32), tile_cm


def _table(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    base = _colour("table", rng)
    noise = smooth_noise(ROOM_PX, rng, 16) * 0.02 + 0.012 * _fibres(rng, 0.7)
    return (base * (1 + noise[..., None])).astype(np.float32), float(rng.uniform(30, 60))


def _wall(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    base = _colour("wall", rng)
    noise = 0.012 * _fibres(rng, 1.5) + 0.01 * smooth_noise(ROOM_PX, rng, 10)
    return (base * (1 + noise[..., None])).astype(np.float32), float(rng.uniform(40, 80))


MAKERS = {
    "bed": _sheet,
    "wood": _wood,
    "carpet": _carpet,
    "rug": _rug,
    "tiles": _tiles,
    "table": _table,
    "wall": _wall,
}


def _warp_tile(tile: np.ndarray, tile_cm: float, turn: float, homography: np.ndarray, size: int) -> np.ndarray:
    scale = tile.shape[0] / tile_cm
    to_tile = np.array([[np.cos(turn), np.sin(turn), 0], [-np.sin(turn), np.cos(turn), 0], [0, 0, 1]]) * [
        scale,
        scale,
        1,
    ]
    matrix = to_tile @ np.linalg.inv(homography)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    data = np.clip(tile, 0, 255).astype(np.uint8)
    return cv2.warpPerspective(data, matrix, (size, size), flags=flags, borderMode=cv2.BORDER_WRAP).astype(np.float32)


def _fold_shading(
    homography: np.ndarray, size: int, rng: np.random.Generator, light: float, amount: float
) -> np.ndarray:
    """Soft folds of a sheet or duvet as a shading field over the image (computed on a coarse grid)."""
    step = 8
    cells = size // step + 2
    coords = pixel_plane_coords(homography, 0, 0, cells, cells, step=step)
    lo, hi = coords.reshape(-1, 2).min(axis=0), coords.reshape(-1, 2).max(axis=0)
    relief = sample_relief(rng, np.concatenate([lo, hi]), "flat", light, amount)
    relief = type(relief)(
        relief.centres,
        relief.directions,
        relief.lengths * 1.5,
        relief.widths * rng.uniform(2.5, 5.0),
        relief.heights,
        relief.bends,
        relief.light,
        relief.strength,
    )
    shade = relief_shading(coords, relief, stride=1)
    return cv2.resize(shade, (cells * step, cells * step), interpolation=cv2.INTER_LINEAR)[:size, :size]


def _wall_features(
    image: np.ndarray, homography: np.ndarray, extent: np.ndarray, rng: np.random.Generator, floor: float | None
) -> None:
    """A door or wardrobe edge, and (for a standing figure) a skirting board with the floor below it from
    ``floor`` (plane y, cm) down."""
    size = image.shape[0]
    lo, hi = extent[:2], extent[2:]
    span = float(np.max(hi - lo))
    if rng.random() < 0.45:  # a vertical edge: door frame, wardrobe side, curtain
        x = float(rng.uniform(lo[0] - 0.4 * span, hi[0] + 0.4 * span))
        width = float(rng.uniform(5, 60))
        side = 1 if x > (lo[0] + hi[0]) / 2 else -1
        band = np.array([[x, lo[1] - 3 * span], [x + side * width, lo[1] - 3 * span]])
        band = np.vstack([band, band[::-1] + np.array([0, 6 * span])])
        colour = _colour("wood", rng) if rng.random() < 0.5 else _colour("wall", rng) * rng.uniform(0.75, 1.05)
        _fill_plane(image, homography, band, colour, rng.uniform(0.6, 1.0))
        edge = np.array([[x - 0.6, lo[1] - 3 * span], [x + 0.6, lo[1] - 3 * span]])
        _fill_plane(image, homography, np.vstack([edge, edge[::-1] + np.array([0, 6 * span])]), colour * 0.6, 0.8)
    if floor is not None:
        y = float(floor)
        ground = np.array([[lo[0] - 3 * span, y], [hi[0] + 3 * span, y], [hi[0] + 3 * span, y + 3 * span]])
        ground = np.vstack([ground, [[lo[0] - 3 * span, y + 3 * span]]])
        tile, tile_cm = MAKERS[str(rng.choice(["wood", "tiles", "carpet"]))](rng)
        layer = _warp_tile(tile, tile_cm * 0.6, 0.0, homography, size) * np.float32(0.9)
        outline = np.clip(project(homography, ground), -4 * size, 5 * size)
        window = Window.around(outline, image.shape)
        if window is not None:
            alpha = np.zeros((window.height, window.width), np.float32)
            points = np.round((outline - [window.x0, window.y0]) * 16).astype(np.int32)
            cv2.fillPoly(alpha, [points], 1.0, cv2.LINE_AA, 4)
            roi = image[window.slices]
            roi += (layer[window.slices] - roi) * alpha[..., None]
        board = np.array([[lo[0] - 3 * span, y - rng.uniform(6, 12)], [hi[0] + 3 * span, y - 8]])
        board = np.vstack([board, [[hi[0] + 3 * span, y], [lo[0] - 3 * span, y]]])
        _fill_plane(image, homography, board, _colour("wall", rng) * rng.uniform(0.85, 1.0), 1.0)


def _fill_plane(
    image: np.ndarray, homography: np.ndarray, polygon_cm: np.ndarray, colour: np.ndarray, opacity: float
) -> None:
    """Paint a plane polygon (cm) seen through the homography, anti-aliased, inside its window only."""
    outline = project(homography, polygon_cm)
    if not np.all(np.isfinite(outline)):
        return
    size = image.shape[0]
    outline = np.clip(outline, -4 * size, 5 * size)
    window = Window.around(outline, image.shape)
    if window is None:
        return
    alpha = np.zeros((window.height, window.width), np.float32)
    points = np.round((outline - [window.x0, window.y0]) * 16).astype(np.int32)
    cv2.fillPoly(alpha, [points], float(opacity), cv2.LINE_AA, 4)
    roi = image[window.slices]
    roi += (np.asarray(colour, np.float32) - roi) * alpha[..., None]


def room_surface(
    kind: str,
    homography: np.ndarray,
    size: int,
    rng: np.random.Generator,
    light_angle: float,
    extent: np.ndarray | None = None,
    floor: float | None = None,
) -> np.ndarray:
    """The background of kind ``kind`` (``bed``, ``wood``, ``carpet``, ``rug``, ``tiles``, ``table``,
    ``wall``) seen through ``homography``: a ``size`` x ``size`` float32 BGR image. A wall gets features around
    ``extent`` (plane box, cm) and, with ``floor`` (plane y, cm), a floor below that line."""
    tile, tile_cm = MAKERS[kind](rng)
    turn = 0.0
    if kind in ("wood", "rug", "bed"):
        turn = float(rng.uniform(0, np.pi))
    elif kind == "tiles":
        turn = float(rng.choice([0.0, np.pi / 4])) + rng.normal(0, 0.03)
    image = _warp_tile(tile, tile_cm, turn, homography, size)
    if kind == "bed":
        image *= _fold_shading(homography, size, rng, light_angle, float(rng.uniform(1.2, 2.5)))[..., None]
    elif kind == "carpet":
        image *= _fold_shading(homography, size, rng, light_angle, float(rng.uniform(0.0, 0.4)))[..., None]
    if kind == "wall" and extent is not None:
        _wall_features(image, homography, extent, rng, floor)
    if kind in ("wood", "tiles", "table") and rng.random() < 0.35:  # a glossy reflection of a window or lamp
        centre = rng.uniform(0, size, 2)
        axes = size * rng.uniform(0.1, 0.35, 2)
        glow = np.zeros((size // 4, size // 4), np.float32)
        cv2.ellipse(
            glow,
            (int(centre[0] / 4), int(centre[1] / 4)),
            (int(axes[0] / 4), int(axes[1] / 4)),
            float(rng.uniform(0, 180)),
            0,
            360,
            1.0,
            -1,
        )
        glow = cv2.resize(cv2.GaussianBlur(glow, (0, 0), size / 40), (size, size))
        image += (rng.uniform(20, 60) * glow)[..., None]
    return image
