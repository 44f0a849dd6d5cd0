"""The one image loader of the tool: any common format in, 8-bit BGR out, or one clear error;
and the one writer of the pictures it makes.

JPEG, PNG, WebP, BMP and TIFF are decoded by OpenCV with the EXIF orientation applied;
grayscale, RGBA (alpha dropped) and 16-bit images become 8-bit 3-channel BGR. The pixel
count is read from the header first (Pillow reads only the header) so a decompression bomb
is refused before any memory is spent on it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from garmentcli.errors import ImageReadError, InputError
from garmentcli.io.atomic import atomic_write

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
"""File suffixes treated as images when a folder is scanned (case-insensitive)."""

DEFAULT_MAX_PIXELS = 120_000_000
"""Images with more pixels than this are refused (override with GARMENTKP_MAX_PIXELS)."""


Image.MAX_IMAGE_PIXELS = None
"""Pillow only reads headers here, and its own bomb limit (about 179 M pixels, an error) would fire before the
tool's and ignore ``GARMENTKP_MAX_PIXELS``; :func:`read_image` applies the tool's limit instead."""


def pixel_limit() -> int:
    """The pixel limit in force: ``$GARMENTKP_MAX_PIXELS`` (read on each call), else :data:`DEFAULT_MAX_PIXELS`."""
    override = os.environ.get("GARMENTKP_MAX_PIXELS", "").replace("_", "").strip()
    if not override:
        return DEFAULT_MAX_PIXELS
    if not override.isdigit() or int(override) <= 0:
        raise InputError(f"GARMENTKP_MAX_PIXELS={override!r}: expected a positive whole number of pixels")
    return int(override)


def image_size(path: Path | BinaryIO, where: str | Path | None = None) -> tuple[int, int]:
    """``(width, height)`` from the file header, without decoding the pixels; ``path`` may be an open binary
    file (then messages name ``where``).

    Pillow's own decompression-bomb limit is off (see :data:`Image.MAX_IMAGE_PIXELS` below): the tool's
    limit (:func:`pixel_limit`, which the user may raise) is checked by :func:`read_image` on this size.
    """
    where = path if where is None else where
    try:
        with Image.open(path) as probe:
            return probe.size
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{where}: not a readable image ({type(exc).__name__})") from exc
    except OSError as exc:
        raise ImageReadError(f"{where}: {exc.strerror or exc}") from exc


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


def read_image(path: str | Path, max_pixels: int | None = None, where: str | Path | None = None) -> np.ndarray:
    """Read ``path`` as an upright 8-bit BGR array; raise :class:`ImageReadError` naming the file (as ``where``
    when given: a worker reading the absolute path names the file as the user gave it).

    Images of more than ``max_pixels`` (default :func:`pixel_limit`) are refused before decoding.
    """
    path = Path(path)
    where = path if where is None else where
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"{where}: {exc.strerror or exc}") from exc
    return decode_image(data, where, max_pixels)


def decode_image(data: bytes | np.ndarray, where: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """:func:`read_image` for a file's bytes already read (from an object store, say): the same checks and
    the same one-line errors, naming ``where``."""
    limit = max_pixels if max_pixels is not None else pixel_limit()
    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    if buffer.size == 0:
        raise ImageReadError(f"{where}: empty file")
    width, height = image_size(io.BytesIO(buffer), where)
    if width * height > limit:
        raise ImageReadError(
            f"{where}: {width}x{height} exceeds the {limit:,}-pixel limit (raise it with GARMENTKP_MAX_PIXELS)"
        )
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise ImageReadError(f"{where}: could not decode the image (corrupt or unsupported)")
    return to_bgr8(image)


def write_image(image: np.ndarray, path: str | Path, jpeg_quality: int = 92) -> None:
    """Encode ``image`` (BGR) in the format its suffix names and write it atomically."""
    suffix = Path(path).suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix in (".jpg", ".jpeg") else []  # no ignored keys
    try:
        ok, encoded = cv2.imencode(suffix, image, params)
    except cv2.error:  # OpenCV raises for a suffix it has no encoder for
        ok = False
    if not ok:
        raise InputError(f"{path}: could not encode the picture")
    with atomic_write(path, "wb") as handle:
        handle.write(encoded.tobytes())
