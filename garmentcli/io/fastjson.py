"""The fast COCO JSON parser: numeric ``"keypoints"`` arrays straight into one float matrix.

A DeepFashion2-sized COCO file holds ~50 million landmark numbers; building a Python float for
each is what makes JSON loading slow. :func:`parse_coco_bytes` cuts the arrays out of the text and
parses them with numpy's C reader; the rest is ordinary JSON. The COCO reader
(:mod:`garmentcli.io.coco`) and ``eval``'s columnar model (:mod:`garmentcli.metrics.instances`) use it.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from garmentcli.io.jsonio import parse_json


def parse_coco_bytes(data: bytes, source: str) -> tuple[Any, np.ndarray | None]:
    """Parse COCO JSON, with the numeric ``"keypoints"`` arrays parsed straight into one float matrix.

    Building a Python float for each of the ~50 million numbers of a DeepFashion2-sized file is
    what makes JSON loading slow, so each flat numeric ``"keypoints": [...]`` array (of the most
    common length) is cut out of the text, the rest is parsed as JSON with the array replaced by
    its row number, and the arrays are parsed together by numpy's C reader (correctly rounded,
    as a JSON parser). Anything unusual (other lengths, ``NaN``) stays in the JSON and takes the
    ordinary path.
    """
    spans = [match.span(1) for match in _NUMERIC_KEYPOINTS.finditer(data)]
    matrix = _parse_rows(data, spans)
    if matrix is None and spans:
        counts = np.array([data.count(b",", start, end) for start, end in spans])
        common = int(np.bincount(counts).argmax())
        spans = [span for span, count in zip(spans, counts.tolist(), strict=True) if count == common > 0]
        matrix = _parse_rows(data, spans)
    if matrix is None:
        return parse_json(data, source), None
    rest, last = [], 0
    for row, (start, end) in enumerate(spans):
        rest += [data[last : start - 1], b"%d" % row]
        last = end + 1
    rest.append(data[last:])
    return parse_json(b"".join(rest), source), matrix


def _parse_rows(data: bytes, spans: list[tuple[int, int]]) -> np.ndarray | None:
    """The comma-separated numbers of each span as one matrix row, or None when they do not form one.

    Most of a DeepFashion2 vector is zeros outside the garment's category: the zero runs at both
    ends of a row are counted (:func:`_zero_ends`) and only the middle is parsed, rows with the
    same middle length together.
    """
    if not spans:
        return None
    pieces = [data[start:end] for start, end in spans]
    if any(b"\n" in p or b"\r" in p for p in pieces):
        pieces = [p.replace(b"\n", b" ").replace(b"\r", b" ") for p in pieces]
    split = [_zero_ends(piece) for piece in pieces]
    del pieces
    lead = np.array([s[0] for s in split], dtype=np.int64)
    middle_size = np.array([s[1].count(b",") + 1 for s in split], dtype=np.int64)
    sizes = lead + middle_size + np.array([s[2] for s in split], dtype=np.int64)
    if np.any(sizes != sizes[0]):
        return None
    matrix = np.zeros((len(split), int(sizes[0])))
    for size in np.unique(middle_size).tolist():
        rows = np.flatnonzero(middle_size == size)
        text = b"\n".join(split[row][1] for row in rows.tolist())
        try:
            values = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
        except ValueError:
            return None
        if values.shape != (len(rows), size):
            return None
        matrix[rows[:, None], lead[rows, None] + np.arange(size)] = values
    return matrix


_ZERO_TOKENS = frozenset({b"0,", b"0.0,"})
"""How JSON writers spell a zero (followed by its comma)."""


def _zero_run(text: bytes) -> int:
    """How many fields ``text`` (fields each followed by a comma) holds if it repeats one zero spelling, else -1."""
    token = text[: text.find(b",") + 1]
    if token not in _ZERO_TOKENS or len(text) % len(token) or text != token * (len(text) // len(token)):
        return -1
    return len(text) // len(token)


def _zero_ends(piece: bytes) -> tuple[int, bytes, int]:
    """``(zero fields before, middle text, zero fields after)`` of one comma-separated row."""
    head = piece.rfind(b",", 0, len(piece) - len(piece.lstrip(b"0.,"))) + 1
    lead = _zero_run(piece[:head]) if head else 0
    if lead < 0:
        lead, head = 0, 0
    rest = piece[head:]
    cut = rest.find(b",", len(rest.rstrip(b"0.,")))
    trail = _zero_run(rest[cut + 1 :] + b",") if cut >= 0 else -1
    if trail < 0:
        return lead, rest, 0
    return lead, rest[:cut], trail


_NUMERIC_KEYPOINTS = re.compile(rb'"keypoints"\s*:\s*\[([0-9eE+\-.,\s]*)\]')
