"""The one image loader of the tool: any common format in, 8-bit BGR out, or one clear error;
and the one writer of the pictures it makes.

JPEG, PNG, WebP, BMP and TIFF are decoded by OpenCV with the EXIF orientation applied;
grayscale, RGBA (alpha dropped) and 16-bit images become 8-bit 3-channel BGR. The pixel
count is read from the header first (Pillow reads only the header) so a decompression bomb
is refused before any memory is spent on it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from garmentcli.errors import ImageReadError, InputError
from garmentcli.io.atomic import atomic_write

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
"""File suffixes treated as images when a folder is scanned (case-insensitive)."""

DEFAULT_MAX_PIXELS = int(os.environ.get("GARMENTKP_MAX_PIXELS", 120_000_000))
"""Images with more pixels than this are refused (override with GARMENTKP_MAX_PIXELS)."""


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the file header, without decoding the pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as probe:
                return probe.size
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({type(exc).__name__})") from exc
    except OSError as exc:
        raise ImageReadError(f"{path}: {exc.strerror or exc}") from exc


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Convert a decoded image of any depth and channel count to 8-bit 3-channel BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read ``path`` as an upright 8-bit BGR array; raise :class:`ImageReadError` naming the file."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"{path}: {exc.strerror or exc}") from exc
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    width, height = image_size(path)
    if width * height > max_pixels:
        raise ImageReadError(f"{path}: {width}x{height} exceeds the {max_pixels:,}-pixel limit")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise ImageReadError(f"{path}: could not decode the image (corrupt or unsupported)")
    return to_bgr8(image)


def write_image(image: np.ndarray, path: str | Path, jpeg_quality: int = 92) -> None:
    """Encode ``image`` (BGR) in the format its suffix names and write it atomically."""
    try:
        ok, encoded = cv2.imencode(Path(path).suffix, image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    except cv2.error:  # OpenCV raises for a suffix it has no encoder for
        ok = False
    if not ok:
        raise InputError(f"{path}: could not encode the picture")
    with atomic_write(path, "wb") as handle:
        handle.write(encoded.tobytes())
