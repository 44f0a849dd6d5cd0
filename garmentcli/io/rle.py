"""COCO run-length encoding of binary masks (``{"size": [h, w], "counts": "..."}``), as pycocotools writes it.

The mask is read column by column (Fortran order); ``counts`` alternate runs of 0 and 1, starting with 0, and are
written as COCO's compressed string: each count, less the count two before it from the third on, in 5-bit groups,
least significant first, each group plus 48 as one character (bit 6 set while more follow, bit 5 the sign). pycocotools
is not a dependency of the tool; the tests check this against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from garmentcli.errors import FormatError


def _runs(mask: np.ndarray) -> list[int]:
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if not flat.size:
        return [0]  # pycocotools' run list of an empty image
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return [0, *runs] if flat[0] else runs


def _compress(counts: list[int]) -> str:
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(c + 48 + (0x20 if more else 0)))
    return "".join(out)


def _decompress(text: str) -> list[int]:
    counts: list[int] = []
    position = 0
    while position < len(text):
        x, shift, more = 0, 0, True
        while more:
            c = ord(text[position]) - 48
            x |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            position += 1
            shift += 5
            if not more and c & 0x10:
                x |= -1 << shift
        counts.append(x + counts[-2] if len(counts) > 2 else x)
    return counts


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """A binary ``(h, w)`` mask as COCO's compressed RLE."""
    height, width = np.shape(mask)
    return {"size": [int(height), int(width)], "counts": _compress(_runs(mask))}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """The ``(h, w)`` bool mask of a COCO RLE (compressed string or list of counts); :class:`FormatError` when its
    counts do not fill its size."""
    height, width = rle["size"]
    counts = rle["counts"]
    runs = _decompress(counts) if isinstance(counts, str) else list(counts)
    if sum(runs) != height * width or min(runs, default=0) < 0:
        raise FormatError(f"RLE counts cover {sum(runs)} pixels, its size {height} x {width} has {height * width}")
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs).reshape((height, width), order="F")
