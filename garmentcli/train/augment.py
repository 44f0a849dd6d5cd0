"""Training augmentation that respects the landmark layout.

Every geometric change (letterboxing to the square input exactly as inference does it, see
:mod:`garmentcli.runtime.letterbox`, then random scale, rotation, translation
and horizontal flip) is composed into ONE affine matrix, so the image is resampled once and
landmarks, boxes and polygons move by exactly the same map. A horizontal flip also renames the
landmarks with the category's ``flip_index`` (a left sleeve becomes the right sleeve). After the
warp the annotations are made honest again: landmarks pushed off the canvas become unlabelled
(``v = 0``), boxes are clipped to the canvas, and garments mostly cut away are dropped.
Photometric changes (colour jitter, grey, blur, noise, JPEG) touch only pixels. They are strong on
purpose: rendered garments are cleaner than phone photos, and photometric variety is what best
carries a model trained on synthetic images over to real ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import cv2
import numpy as np

from garmentcli.runtime.letterbox import PAD_VALUE, Letterbox
from garmentcli.schema.records import Garment


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random changes; :meth:`off` gives the identity (plain letterboxing)."""

    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.65, 1.25)
    rotation_deg: float = 12.0
    translate_frac: float = 0.12
    min_visible_fraction: float = 0.35
    """Garments whose clipped box keeps less than this fraction of their warped box area are dropped."""
    hue_shift: float = 12.0
    saturation_range: tuple[float, float] = (0.5, 1.5)
    brightness_range: tuple[float, float] = (0.6, 1.4)
    contrast_range: tuple[float, float] = (0.6, 1.4)
    grey_prob: float = 0.05
    blur_prob: float = 0.3
    noise_prob: float = 0.3
    noise_sigma: float = 6.0
    jpeg_prob: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 90)

    @classmethod
    def off(cls) -> AugmentConfig:
        """No random change at all: used for validation and for deterministic tests."""
        return cls(
            flip_prob=0.0,
            scale_range=(1.0, 1.0),
            rotation_deg=0.0,
            translate_frac=0.0,
            min_visible_fraction=0.0,
            hue_shift=0.0,
            saturation_range=(1.0, 1.0),
            brightness_range=(1.0, 1.0),
            contrast_range=(1.0, 1.0),
            grey_prob=0.0,
            blur_prob=0.0,
            noise_prob=0.0,
            jpeg_prob=0.0,
        )


def random_matrix(size: int, config: AugmentConfig, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """A random 3x3 similarity about the canvas centre, and whether it mirrors horizontally."""
    centre = (size - 1) / 2.0
    flip = bool(rng.random() < config.flip_prob)
    scale = float(rng.uniform(*config.scale_range))
    angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg))
    shift = rng.uniform(-config.translate_frac, config.translate_frac, size=2) * size
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    mirror = -1.0 if flip else 1.0
    to_origin = np.array([[1.0, 0.0, -centre], [0.0, 1.0, -centre], [0.0, 0.0, 1.0]])
    similarity = np.array([[cos * mirror, -sin, 0.0], [sin * mirror, cos, 0.0], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, centre + shift[0]], [0.0, 1.0, centre + shift[1]], [0.0, 0.0, 1.0]])
    return back @ similarity @ to_origin, flip


def apply_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(N, 2)`` points by a 3x3 affine matrix."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _outline_points(garment: Garment) -> np.ndarray:
    """The points whose warped extent is the garment's new box: its polygons, else its box corners."""
    if garment.segmentation:
        polygons = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in garment.segmentation if len(p) >= 6]
        if polygons:
            return np.concatenate(polygons)
    x, y, w, h = garment.bbox
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def warp_garment(
    garment: Garment, matrix: np.ndarray, size: int, flip: bool, min_visible_fraction: float
) -> Garment | None:
    """The garment as it lies on the warped canvas, or ``None`` when it is mostly cut away."""
    outline = apply_points(matrix, _outline_points(garment))
    low, high = outline.min(axis=0), outline.max(axis=0)
    clipped_low, clipped_high = np.clip(low, 0, size), np.clip(high, 0, size)
    full_area = float(np.prod(high - low))
    kept = clipped_high - clipped_low
    if full_area <= 0 or np.any(kept < 2.0) or float(np.prod(kept)) < min_visible_fraction * full_area:
        return None
    landmarks = garment.landmarks.copy()
    labelled = landmarks[:, 2] > 0
    landmarks[:, :2] = apply_points(matrix, landmarks[:, :2])
    inside = np.all((landmarks[:, :2] >= 0) & (landmarks[:, :2] <= size - 1), axis=1)
    landmarks[~(labelled & inside)] = 0.0
    if flip:
        renamed = np.empty_like(landmarks)
        renamed[garment.category.flip_index] = landmarks
        landmarks = renamed
    segmentation = None
    if garment.segmentation:
        segmentation = [
            apply_points(matrix, np.asarray(p, dtype=np.float64).reshape(-1, 2)).ravel().tolist()
            for p in garment.segmentation
        ]
    return Garment(
        garment.category_id,
        np.concatenate([clipped_low, kept]),
        landmarks,
        score=garment.score,
        id=garment.id,
        segmentation=segmentation,
        attributes=dict(garment.attributes),
        extra=copy.copy(garment.extra),
    )


def warp_sample(
    image: np.ndarray,
    garments: list[Garment],
    size: int,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[Garment], np.ndarray]:
    """Letterbox ``image`` to ``size`` with a random geometric change; returns image, garments, 3x3 matrix."""
    height, width = image.shape[:2]
    augment, flip = random_matrix(size, config, rng)
    matrix = augment @ np.vstack([Letterbox.fit(width, height, size).matrix, [0.0, 0.0, 1.0]])
    canvas = cv2.warpAffine(
        image, matrix[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=PAD_VALUE
    )
    warped = [warp_garment(g, matrix, size, flip, config.min_visible_fraction) for g in garments]
    return canvas, [g for g in warped if g is not None], matrix


def jitter_colour(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Random hue shift, saturation, brightness and contrast (BGR uint8 in and out)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-config.hue_shift, config.hue_shift)) % 180.0
    hsv[..., 1] *= rng.uniform(*config.saturation_range)
    hsv[..., 2] *= rng.uniform(*config.brightness_range)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(*config.contrast_range) + mean
    if rng.random() < config.grey_prob:
        out[:] = out.mean(axis=2, keepdims=True)
    return np.clip(out, 0, 255).astype(np.uint8)


def degrade(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Occasional Gaussian blur, sensor noise and JPEG compression, as phone photos have them."""
    if rng.random() < config.blur_prob:
        sigma = rng.uniform(0.5, 2.0)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    if rng.random() < config.noise_prob:
        noise = rng.normal(0.0, config.noise_sigma, size=image.shape)
        image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < config.jpeg_prob:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return image


def augment_sample(
    image: np.ndarray,
    garments: list[Garment],
    size: int,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[Garment], np.ndarray]:
    """The full training augmentation: geometry (one warp), then colour, blur and noise."""
    canvas, warped, matrix = warp_sample(image, garments, size, config, rng)
    return degrade(jitter_colour(canvas, config, rng), config, rng), warped, matrix
