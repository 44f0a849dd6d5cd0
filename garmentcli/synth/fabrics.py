"""Fabrics of the realistic look: knit, jersey, heather, denim twill, plaid, florals and prints, quilting,
colour blocks, uneven dye, and the relief of soft wrinkles and folds as a shading field.

Every fabric is still a periodic tile looked up at garment-frame coordinates (so it follows the
garment's deformation and the camera), plus two smooth fields also looked up there: a tone field
(uneven dye, the fade of worn denim) and a relief whose slope, lit from one side, shades the fabric
(:func:`relief_shading`). Nothing here changes a garment's outline: ground truth is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from garmentcli.synth.texture import Look, _bgr, _tile, contrasting, looks, pick

FABRIC_PX = 128
"""Side of a realistic fabric tile."""


@dataclass
class Extras:
    """What the realistic look adds to a :class:`~garmentcli.synth.texture.Look`."""

    tone: np.ndarray
    """A periodic smooth field (``FABRIC_PX`` square, about [-1, 1]): uneven dye, fading."""
    tone_cm: float
    tone_amount: float
    block: tuple[np.ndarray, float, np.ndarray] | None = None
    """Colour block: (unit normal, offset cm, colour) of a half-plane of the garment frame painted another colour."""
    relief: float = 1.0
    """Strength of wrinkle shading (quilted and stiff fabrics differ)."""
    quilt_cm: float = 0.0
    """Channel spacing of a quilted (puffer) fabric, 0 when not quilted."""


def wrap_blur(tile: np.ndarray, sigma_x: float, sigma_y: float | None = None) -> np.ndarray:
    """Gaussian blur of a seamless tile that keeps it seamless (the tile wraps around at its edges)."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    pad_y = min(int(np.ceil(3 * sigma_y)) + 1, tile.shape[0])
    pad_x = min(int(np.ceil(3 * sigma_x)) + 1, tile.shape[1])
    widths = ((pad_y, pad_y), (pad_x, pad_x)) + ((0, 0),) * (tile.ndim - 2)
    blurred = cv2.GaussianBlur(np.pad(tile, widths, mode="wrap"), (0, 0), sigmaX=sigma_x, sigmaY=sigma_y)
    return blurred[pad_y : pad_y + tile.shape[0], pad_x : pad_x + tile.shape[1]].copy()


def garment_colour(rng: np.random.Generator, neutral: float | None = None) -> np.ndarray:
    """A garment colour as real wardrobes have them: often a neutral (black, white, grey, navy, beige, denim
    blue …), else a hue of moderate saturation; BGR, jittered."""
    data = looks()["realistic"]
    if rng.random() < (data["garment_neutral_probability"] if neutral is None else neutral):
        palette = data["colours"]["garment_neutrals"]
        base = _bgr(palette[int(rng.integers(len(palette)))])
    else:
        saturation = 40 + 200 * rng.random() ** 1.3
        hsv = np.uint8([[[rng.integers(0, 180), saturation, rng.integers(60, 235)]]])
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    return np.clip(base + rng.normal(0, 6, 3), 0, 255).astype(np.float32)


def contrast_colour(colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A second colour that stands out from ``colour`` (stripes, prints, colour blocks)."""
    return contrasting(colour, garment_colour(rng, 0.5), dark=0.3, light=0.25)


def _wrap_draw(canvas: np.ndarray, draw: object, centre: np.ndarray) -> None:
    """Call ``draw(canvas, centre)`` at the centre and its eight periodic copies (seamless tiles)."""
    side = canvas.shape[0]
    for dy in (-side, 0, side):
        for dx in (-side, 0, side):
            draw(canvas, centre + np.array([dx, dy]))  # type: ignore[operator]


def _motifs(base: np.ndarray, rng: np.random.Generator, big: bool) -> np.ndarray:
    """An all-over print: flowers, leaves, dots or blobs in a few colours scattered on a seamless tile."""
    side = FABRIC_PX * 2
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = np.clip(base, 0, 255).astype(np.uint8)
    palette = [contrast_colour(base, rng) for _ in range(int(rng.integers(2, 5)))]
    count = int(rng.integers(4, 10) if big else rng.integers(10, 34))
    kind = str(rng.choice(["flower", "leaf", "dot", "blob", "mixed"]))
    for _ in range(count):
        centre = rng.uniform(0, side, 2)
        colour = tuple(int(v) for v in palette[int(rng.integers(len(palette)))])
        radius = float(rng.uniform(0.05, 0.16) if big else rng.uniform(0.02, 0.07)) * side
        this = kind if kind != "mixed" else str(rng.choice(["flower", "leaf", "dot", "blob"]))
        angle = float(rng.uniform(0, 360))
        centre_colour = tuple(int(v) for v in palette[int(rng.integers(len(palette)))])

        def draw(
            c: np.ndarray,
            at: np.ndarray,
            this: str = this,
            r: float = radius,
            col: tuple = colour,
            angle: float = angle,
            centre_colour: tuple = centre_colour,
        ) -> None:
            x, y = int(at[0]), int(at[1])
            if this == "flower":
                for k in range(5):
                    a = np.deg2rad(angle + 72 * k)
                    p = (int(x + 0.55 * r * np.cos(a)), int(y + 0.55 * r * np.sin(a)))
                    cv2.circle(c, p, max(1, int(0.45 * r)), col, -1, cv2.LINE_AA)
                cv2.circle(c, (x, y), max(1, int(0.25 * r)), centre_colour, -1, cv2.LINE_AA)
            elif this == "leaf":
                cv2.ellipse(c, (x, y), (max(1, int(r)), max(1, int(0.4 * r))), angle, 0, 360, col, -1, cv2.LINE_AA)
            elif this == "dot":
                cv2.circle(c, (x, y), max(1, int(0.5 * r)), col, -1, cv2.LINE_AA)
            else:
                cv2.ellipse(c, (x, y), (max(1, int(r)), max(1, int(0.7 * r))), angle, 0, 360, col, -1, cv2.LINE_AA)

        _wrap_draw(canvas, draw, centre)
    tile = cv2.resize(canvas, (FABRIC_PX, FABRIC_PX), interpolation=cv2.INTER_AREA).astype(np.float32)
    return tile


def _plaid(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tartan or gingham: bands of a few colours across both directions, averaged where they cross."""
    weave = np.zeros((FABRIC_PX, 3), np.float32) + base
    for _ in range(int(rng.integers(2, 5))):
        start, width = int(rng.integers(0, FABRIC_PX)), int(rng.integers(3, FABRIC_PX // 3))
        rows = (np.arange(FABRIC_PX) - start) % FABRIC_PX < width
        weave[rows] = contrast_colour(base, rng) if rng.random() < 0.6 else np.clip(base * 0.55, 0, 255)
    tile = (weave[:, None, :] + weave[None, :, :]) / 2
    twill = (np.add.outer(np.arange(FABRIC_PX), np.arange(FABRIC_PX)) % 4 < 2).astype(np.float32)
    return tile * (0.96 + 0.08 * twill[..., None])


def _knit(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ribbed or cable knit: vertical columns of V stitches, shaded."""
    i, j = np.mgrid[0:FABRIC_PX, 0:FABRIC_PX].astype(np.float32)
    columns = int(rng.choice([8, 12, 16]))
    period = FABRIC_PX / columns
    phase = (j % period) / period
    rows = FABRIC_PX / int(rng.choice([12, 16, 24]))
    v = np.abs(((i + np.abs(phase - 0.5) * rows) % rows) / rows - 0.5)
    stitch = 0.75 + 0.25 * np.cos(np.pi * (phase - 0.5) * 2) ** 2 - 0.12 * v
    if rng.random() < 0.35:  # a cable: a braid down some columns
        cable = np.sin(i * (2 * np.pi / (FABRIC_PX / 2)) + np.pi * (j // (2 * period)))
        stitch = stitch * (0.9 + 0.12 * cable * ((j // period) % 3 == 0))
    return (base * stitch[..., None]).astype(np.float32)


def _heather(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heathered jersey: flecks of a lighter and a darker yarn in the base colour."""
    fine = wrap_blur(rng.standard_normal((FABRIC_PX, FABRIC_PX)).astype(np.float32), 0.7)
    fine /= fine.std() + 1e-6
    light, dark = np.clip(base * 1.35 + 30, 0, 255), base * 0.7
    mix = np.clip(fine, -1.5, 1.5)[..., None] / 1.5
    return np.where(mix > 0, base + (light - base) * mix, base + (base - dark) * mix).astype(np.float32)


def _denim(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Twill: diagonal wale of white weft under the indigo warp, slubby."""
    i, j = np.mgrid[0:FABRIC_PX, 0:FABRIC_PX].astype(np.float32)
    wale = 0.5 + 0.5 * np.sin((i + j) * (2 * np.pi / 6))
    slub = wrap_blur(rng.standard_normal((FABRIC_PX, FABRIC_PX)).astype(np.float32), 0.6, 4.0)
    light = np.clip(base * 1.6 + 40, 0, 255)
    mix = np.clip(0.3 * wale + 0.25 * slub + 0.1, 0, 1)[..., None]
    return (base * (1 - mix) + light * mix).astype(np.float32)


def _jersey(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Plain jersey: fine vertical wales, barely visible."""
    j = np.arange(FABRIC_PX, dtype=np.float32)[None, :]
    wale = 1 + 0.025 * np.sin(j * (2 * np.pi / 4)) + 0.02 * rng.standard_normal((FABRIC_PX, FABRIC_PX))
    return (base * wale[..., None].astype(np.float32)).astype(np.float32)


def _stripes(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Breton or multi-colour stripes."""
    tile = np.empty((FABRIC_PX, FABRIC_PX, 3), np.float32)
    tile[:] = base
    colours = [contrast_colour(base, rng) for _ in range(int(rng.integers(1, 4)))]
    y = 0
    while y < FABRIC_PX:
        width = int(rng.integers(FABRIC_PX // 12, FABRIC_PX // 3))
        gap = int(rng.integers(FABRIC_PX // 16, FABRIC_PX // 3))
        tile[y : y + width] = colours[int(rng.integers(len(colours)))]
        y += width + gap
    return wrap_blur(tile, 0.6)


def _weave(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Plain cloth: a faint plain, twill or knit texture with slubs, in the base colour."""
    i, j = np.mgrid[0:FABRIC_PX, 0:FABRIC_PX].astype(np.float32)
    kind = int(rng.integers(3))
    if kind == 0:
        texture = np.sin(i * np.pi / 2) * np.sin(j * np.pi / 2)
    elif kind == 1:
        texture = np.sin((i + j) * (2 * np.pi / 4))
    else:
        texture = np.cos(np.pi * ((j % 4) / 4 - 0.5) * 2) + 0.5 * np.sin(i * np.pi / 2)
    slub = wrap_blur(rng.standard_normal((FABRIC_PX, FABRIC_PX)).astype(np.float32), 3.0, 0.8)
    slub /= np.abs(slub).max() + 1e-6
    shade = 1 + float(rng.uniform(0.02, 0.06)) * texture + float(rng.uniform(0.01, 0.05)) * slub
    return (base * shade[..., None]).astype(np.float32)


TILE_CM = {
    "jersey": (2.0, 3.0),
    "heather": (4.0, 8.0),
    "knit": (6.0, 14.0),
    "denim": (1.5, 2.4),
    "plaid": (8.0, 24.0),
    "stripes": (6.0, 22.0),
    "floral": (8.0, 24.0),
    "print": (25.0, 60.0),
    "dots": (1.5, 5.0),
    "checks": (1.5, 6.0),
    "camo": (20.0, 45.0),
    "quilted": (2.5, 5.0),
    "solid": (2.5, 5.0),
}


def _tone(rng: np.random.Generator) -> np.ndarray:
    return smooth_noise(64, rng, 6)


def sample_fabric(rng: np.random.Generator, category: str) -> tuple[Look, Extras]:
    """A realistic fabric for a garment of the category (its name): the kind and colour from the weights in
    ``appearance.json`` (``realistic.fabrics``, the same for every category), a colour block on some tops."""
    kind = pick(looks()["realistic"]["fabrics"], rng)
    if kind == "denim":
        palette = looks()["denim_colours"]
        base = _bgr(palette[int(rng.integers(len(palette)))]) + rng.normal(0, 6, 3).astype(np.float32)
    else:
        base = garment_colour(rng)
    second = contrast_colour(base, rng)
    makers = {
        "jersey": _jersey,
        "heather": _heather,
        "knit": _knit,
        "denim": _denim,
        "plaid": _plaid,
        "stripes": _stripes,
        "floral": lambda b, r: _motifs(b, r, False),
        "print": lambda b, r: _motifs(b, r, True),
    }
    if kind in makers:
        tile = makers[kind](base, rng)
    elif kind in ("dots", "checks", "camo"):
        tile = _tile(kind, base, second, rng)
    else:  # solid, quilted: plain cloth still shows its weave up close
        tile = _weave(base, rng)
    low, high = TILE_CM[kind]
    tile_cm = float(rng.uniform(low, high))
    angle = 0.0
    if kind in ("stripes", "plaid", "checks"):
        angle = float(rng.choice([0.0, 0.0, 0.0, 90.0, 45.0]))
    elif kind == "denim":
        angle = float(rng.uniform(-5, 5))
    trim = np.clip(base * rng.uniform(0.7, 1.2) + rng.normal(0, 10, 3), 0, 255).astype(np.float32)
    if rng.random() < 0.3:
        trim = second.copy()
    lining = np.clip(base * rng.uniform(0.45, 0.75), 0, 255).astype(np.float32)
    pattern = "solid" if kind in ("solid", "quilted") else kind
    look = Look(tile, tile_cm, angle, base, trim, lining, float(rng.uniform(1.0, 4.0)), pattern)
    block = None
    upper = "sleeve" in category or category in ("vest", "sling") or "dress" in category
    if upper and kind in ("solid", "jersey", "quilted") and rng.random() < (0.3 if "outwear" in category else 0.12):
        turn = np.deg2rad(rng.choice([90.0, 90.0, 60.0, 120.0]) + rng.normal(0, 4))
        block = (np.array([np.cos(turn), np.sin(turn)]), float(rng.uniform(8, 40)), second)
    tone_amount = float(rng.uniform(0.12, 0.25) if kind == "denim" else rng.uniform(0.0, 0.06))
    relief = float(rng.uniform(0.5, 0.8) if kind in ("denim", "quilted") else rng.uniform(0.7, 1.3))
    quilt = float(rng.uniform(5.0, 11.0)) if kind == "quilted" else 0.0
    return look, Extras(_tone(rng), float(rng.uniform(25, 60)), tone_amount, block, relief, quilt)


def paint_extras(layer: np.ndarray, coords: np.ndarray, extras: Extras) -> np.ndarray:
    """Colour block and tone field over a painted fabric ``layer`` at garment-frame ``coords``."""
    if extras.block is not None:
        normal, offset, colour = extras.block
        side = (coords @ normal.astype(np.float32) - offset) / 0.25
        weight = np.clip(side + 0.5, 0, 1)[..., None]
        layer = layer + (colour - layer) * weight
    if extras.tone_amount > 0:
        scale = extras.tone.shape[0] / extras.tone_cm
        u, v = (coords[..., 0] * scale).astype(np.float32), (coords[..., 1] * scale).astype(np.float32)
        tone = cv2.remap(extras.tone, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        layer = layer * (1 + extras.tone_amount * tone)[..., None]
    return layer


CRUMPLE = {"flat": (0.06, 0.16), "hung": (0.03, 0.08), "worn": (0.04, 0.1)}
"""Range of the crease shading's amplitude per scene kind."""
PUFF = {"flat": (0.04, 0.12), "hung": (0.03, 0.08), "worn": (0.03, 0.08)}
"""Range of the broad swell's shading amplitude per scene kind."""


@dataclass(frozen=True)
class Relief:
    """The wrinkles of one garment: ridges (finite, gently curved) and broad bulges, in its own frame."""

    centres: np.ndarray
    directions: np.ndarray
    """(N, 2) unit vectors along each ridge."""
    lengths: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    bends: np.ndarray
    light: np.ndarray
    """Unit vector towards the light, in the garment frame."""
    strength: float
    quilt_cm: float = 0.0
    crumple: np.ndarray | None = None
    """A seamless tile of the light's slope over small random creases (added to the shade), or None."""
    crumple_cm: float = 20.0
    puff: np.ndarray | None = None
    """The same for the broad swell of cloth lying loosely (a few bulges across the garment), or None."""
    puff_cm: float = 60.0


def _crumple(
    rng: np.random.Generator,
    light: np.ndarray,
    amount: float,
    cells: tuple[int, int] = (8, 14),
    fine: float = 0.45,
) -> np.ndarray:
    """Slope towards the light of a seamless bumpy height field (creases of cloth that was handled)."""
    side = 96
    height = smooth_noise(side, rng, int(rng.integers(*cells)))
    if fine:
        height = height + fine * smooth_noise(side, rng, 28)
    gx = (np.roll(height, -1, axis=1) - np.roll(height, 1, axis=1)) / 2
    gy = (np.roll(height, -1, axis=0) - np.roll(height, 1, axis=0)) / 2
    slope = gx * light[0] + gy * light[1]
    return (slope * (amount / (np.abs(slope).max() + 1e-6))).astype(np.float32)


def sample_relief(
    rng: np.random.Generator,
    box_cm: np.ndarray,
    mode: str,
    light_angle: float,
    strength: float,
) -> Relief:
    """Wrinkles for a garment spanning ``box_cm`` ``[x0, y0, x1, y1]`` (garment frame): ``flat`` lying on a
    surface (random ridges, a few long folds), ``hung`` (long vertical drape folds), ``worn`` (pull lines
    and bunching)."""
    lo, hi = box_cm[:2], box_cm[2:]
    size = float(np.max(hi - lo))
    count = int(rng.integers(10, 22))
    centres = rng.uniform(lo, hi, (count, 2))
    if mode == "hung":
        angles = np.pi / 2 + rng.normal(0, 0.18, count)
        lengths = rng.uniform(0.25, 0.8, count) * size
    elif mode == "worn":
        angles = np.where(rng.random(count) < 0.5, rng.uniform(0, np.pi, count), rng.normal(0, 0.35, count))
        lengths = rng.uniform(0.1, 0.35, count) * size
    else:
        angles = rng.uniform(0, np.pi, count)
        lengths = rng.uniform(0.1, 0.5, count) * size
    widths = rng.uniform(0.4, 1.8, count) * (1 + 0.4 * (mode == "hung"))
    heights = rng.uniform(0.3, 1.0, count) * rng.choice([-1.0, 1.0], count)
    light = np.array([np.cos(light_angle), np.sin(light_angle)])
    crumple = _crumple(rng, light, float(rng.uniform(*CRUMPLE[mode])) * strength)
    puff = _crumple(rng, light, float(rng.uniform(*PUFF[mode])), cells=(3, 5), fine=0.0)
    return Relief(
        centres,
        np.stack([np.cos(angles), np.sin(angles)], axis=1),
        lengths,
        widths,
        heights,
        rng.normal(0, 0.015, count) / np.maximum(lengths, 1.0) * size,
        light,
        strength,
        0.0,
        crumple,
        float(rng.uniform(12, 30)),
        puff,
        float(rng.uniform(0.8, 1.6) * size),
    )


def relief_shading(coords: np.ndarray, relief: Relief, stride: int = 3) -> np.ndarray:
    """Multiplicative shading (h, w) of the relief at garment-frame ``coords`` (h, w, 2).

    The relief's height is a sum of ridges with a Gaussian cross-section and smooth ends; the
    shade is Lambertian in the height's slope towards the light, plus a little darkening in the
    hollows. Computed every ``stride`` pixels and interpolated.
    """
    h, w = coords.shape[:2]
    small = coords[::stride, ::stride]
    xs, ys = small[..., 0].astype(np.float32), small[..., 1].astype(np.float32)
    slope = np.zeros(xs.shape, np.float32)
    height = np.zeros(xs.shape, np.float32)
    lx, ly = (float(v) for v in relief.light)
    for centre, d, length, width, amp, bend in zip(
        relief.centres, relief.directions, relief.lengths, relief.widths, relief.heights, relief.bends, strict=True
    ):
        dx, dy = float(d[0]), float(d[1])
        rx, ry = xs - np.float32(centre[0]), ys - np.float32(centre[1])
        along = rx * dx + ry * dy
        u = along * np.float32(2 / max(length, 1.0))
        envelope = np.maximum(1 - u * u, 0)
        t = (ry * dx - rx * dy - np.float32(bend / max(length, 1.0)) * along * along) * np.float32(1 / width)
        profile = np.exp(-0.5 * t * t) * (envelope * envelope) * np.float32(amp)
        height += profile
        slope += profile * t * np.float32(-(-dy * lx + dx * ly) / width)
    if relief.quilt_cm:  # puffer channels across the garment: each a bulge between two seams
        phase = ys * np.float32(np.pi / relief.quilt_cm)
        wave = np.sin(phase)
        height += 0.8 * (np.abs(wave) - 0.5)
        slope += np.float32(0.8 * np.pi / relief.quilt_cm * ly) * np.cos(phase) * np.sign(wave)
    shade = 1 + relief.strength * (0.8 * slope + 0.06 * np.minimum(height, 0))
    if relief.crumple is not None:
        scale = np.float32(relief.crumple.shape[0] / relief.crumple_cm)
        shade += cv2.remap(relief.crumple, xs * scale, ys * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    if relief.puff is not None:
        scale = np.float32(relief.puff.shape[0] / relief.puff_cm)
        shade += cv2.remap(relief.puff, xs * scale, ys * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    shade = np.clip(shade, 0.55, 1.35).astype(np.float32)
    return cv2.resize(shade, (w, h), interpolation=cv2.INTER_LINEAR)


def smooth_noise(side: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """A smooth seamless random field on a ``side`` square (``cells`` random values per side, cubic), about
    [-1, 1]: a cheap stand-in for :func:`~garmentcli.synth.texture.periodic_noise`."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    big = np.tile(grid, (3, 3))
    field = cv2.resize(big, (3 * side, 3 * side), interpolation=cv2.INTER_CUBIC)[side : 2 * side, side : 2 * side]
    return field / (float(np.abs(field).max()) + 1e-6)
