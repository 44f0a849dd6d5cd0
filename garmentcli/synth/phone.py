"""The phone camera of the realistic look: uneven light, white balance, exposure and tone curve,
defocus or hand-shake blur, sharpening, sensor noise and JPEG, all photometric.

Nothing here moves a pixel: every blur kernel is centred and symmetric, so the ground truth
(landmarks, masks, boxes) of the geometry stays exact.
"""

from __future__ import annotations

import cv2
import numpy as np

from garmentcli.synth.texture import noise_patch

LIGHT_GRID = 9

WHITE_BALANCE = {
    "neutral": (1.0, 1.0, 1.0),
    "tungsten": (0.78, 0.95, 1.18),
    "warm": (0.88, 0.98, 1.08),
    "daylight_shade": (1.12, 1.02, 0.9),
    "fluorescent": (0.95, 1.05, 0.95),
}
"""BGR gains of the light sources a phone's auto white balance leaves a trace of."""


def _light_field(rng: np.random.Generator, size: int, light_angle: float, params: dict) -> np.ndarray:
    """Low-frequency illumination: a gradient towards the light, a vignette and sometimes a bright patch."""
    ys, xs = np.mgrid[0:LIGHT_GRID, 0:LIGHT_GRID].astype(np.float32) / (LIGHT_GRID - 1) - 0.5
    gradient = rng.uniform(*params["light_gradient"])
    light = 1 + gradient * (np.cos(light_angle) * xs + np.sin(light_angle) * ys)
    light -= rng.uniform(*params["vignette"]) * (xs * xs + ys * ys) * 2
    if rng.random() < params["light_patch_probability"]:
        centre = rng.uniform(-0.5, 0.5, 2)
        spread = rng.uniform(0.15, 0.4)
        light += rng.uniform(0.1, 0.3) * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * spread**2))
    return cv2.resize(light.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)


def _disk(radius: float) -> np.ndarray:
    """A centred defocus disk (area-sampled), odd-sized, summing to 1."""
    half = int(np.ceil(radius)) + 1
    fine = 8
    grid = (np.arange((2 * half + 1) * fine) + 0.5) / fine - half - 0.5
    inside = (grid[None, :] ** 2 + grid[:, None] ** 2 <= radius**2).astype(np.float32)
    kernel = cv2.resize(inside, (2 * half + 1, 2 * half + 1), interpolation=cv2.INTER_AREA)
    return kernel / kernel.sum()


def _motion(length: float, angle: float) -> np.ndarray:
    """A centred, symmetric line kernel (hand shake), summing to 1."""
    half = int(np.ceil(length / 2)) + 1
    fine = 8
    side = (2 * half + 1) * fine
    canvas = np.zeros((side, side), np.float32)
    c = side / 2
    d = np.array([np.cos(angle), np.sin(angle)]) * length / 2 * fine
    cv2.line(canvas, (int(c - d[0]), int(c - d[1])), (int(c + d[0]), int(c + d[1])), 1.0, fine, cv2.LINE_AA)
    kernel = cv2.resize(canvas, (2 * half + 1, 2 * half + 1), interpolation=cv2.INTER_AREA)
    kernel = (kernel + kernel[::-1, ::-1]) / 2
    return kernel / kernel.sum()


def _tone_curve(contrast: float) -> np.ndarray:
    """A gentle S curve (a phone's processing) as a 256-entry lookup table."""
    x = np.arange(256, dtype=np.float64) / 255
    return np.round(255 * np.clip(x + contrast * x * (1 - x) * (x - 0.5) * 2, 0, 1)).astype(np.uint8)


def phone_photo(image: np.ndarray, rng: np.random.Generator, params: dict, light_angle: float) -> np.ndarray:
    """Turn the rendered float32 BGR scene into a phone photo (uint8 BGR, same size)."""
    size = image.shape[0]
    balance = list(WHITE_BALANCE)
    weights = np.asarray(params["white_balance_weights"], np.float64)
    gains = np.asarray(WHITE_BALANCE[balance[int(rng.choice(len(balance), p=weights / weights.sum()))]], np.float32)
    gains = gains * (1 + rng.uniform(-params["colour_cast"], params["colour_cast"], 3)).astype(np.float32)
    gains *= np.float32(rng.uniform(*params["exposure"]))
    image *= _light_field(rng, size, light_angle, params)[..., None] * gains
    blur = rng.random()
    p_defocus, p_motion = params["defocus_probability"], params["motion_probability"]
    if blur < p_defocus:
        image = cv2.filter2D(image, -1, _disk(rng.uniform(*params["defocus_radius_px"])), borderType=cv2.BORDER_REFLECT)
    elif blur < p_defocus + p_motion:
        kernel = _motion(rng.uniform(*params["motion_length_px"]), rng.uniform(0, np.pi))
        image = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)
    else:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.35, 0.8))
    if rng.random() < params["sharpen_probability"]:
        amount = float(rng.uniform(0.3, 0.9))
        image = cv2.addWeighted(image, 1 + amount, cv2.GaussianBlur(image, (0, 0), 1.0), -amount, 0)
    # sensor noise: shot noise grows with the signal, read noise does not; blotchy colour noise
    sigma = np.float32(rng.uniform(*params["noise_sigma"]))
    level = cv2.sqrt(np.clip(image, 0, 255) * np.float32(1 / 255) + np.float32(0.05))
    chroma = rng.standard_normal((size // 4 + 1, size // 4 + 1, 3)).astype(np.float32)
    chroma = cv2.resize(chroma, (size, size), interpolation=cv2.INTER_LINEAR) * np.float32(rng.uniform(0.5, 2.5))
    image += (noise_patch(rng, size, size)[..., None] * sigma + chroma) * level
    photo = cv2.LUT(np.clip(image + 0.5, 0, 255).astype(np.uint8), _tone_curve(rng.uniform(*params["contrast"])))
    if rng.random() < params["double_jpeg_probability"]:  # a photo that was compressed before (shared, resaved)
        quality = int(rng.integers(*params["first_jpeg_quality"]))
        ok, data = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            photo = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return photo
