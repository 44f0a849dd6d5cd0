"""The one place where landmark visibility is translated between formats.

Every converter works in the *canonical* flags, which are COCO's (and DeepFashion2's):
``2`` visible, ``1`` occluded (labelled, hidden), ``0`` not labelled. The other formats:

========================  ===================  ====================  =====================
format                    visible              occluded              not labelled
========================  ===================  ====================  =====================
COCO / DeepFashion2       ``2``                ``1``                 ``0`` (x = y = 0)
YOLO-pose (Ultralytics)   ``2``                ``1``                 ``0`` (x = y = 0)
FLD ``list_landmarks``    ``0``                ``1``                 ``2`` (truncated)
CVAT skeleton point       outside=0 occluded=0 outside=0 occluded=1  outside=1
Label Studio keypoint     choice ``visible``   choice ``occluded``   no keypoint region
========================  ===================  ====================  =====================

Ultralytics trains every keypoint whose flag is not ``0`` (occluded ones included, as COCO's
OKS does), so writing the COCO flags unchanged is what keeps occluded landmarks in training.

Predictions store a *confidence* in the third column instead of a flag. :func:`canonical_flags`
turns it into a flag, so no format ever receives a confidence where a flag belongs:
confidence >= :data:`VISIBLE_CONFIDENCE` is visible, a lower but positive confidence is
occluded (labelled, so a reviewer sees it and checks it), ``0`` is not labelled.
"""

from __future__ import annotations

import numpy as np

from garmentcli.errors import FormatError
from garmentcli.schema.records import Garment
from garmentcli.schema.visibility import FLD_CODES, OCCLUDED, UNLABELLED, VISIBLE

__all__ = ["OCCLUDED", "UNLABELLED", "VISIBLE"]  # the flags themselves live in garmentcli.schema.visibility

VISIBLE_CONFIDENCE = 0.5
"""A predicted landmark at least this confident is exported as visible; below it, as occluded."""

FLAG_CODES: dict[str, dict[int, int]] = {
    "coco": {VISIBLE: 2, OCCLUDED: 1, UNLABELLED: 0},
    "df2": {VISIBLE: 2, OCCLUDED: 1, UNLABELLED: 0},
    "yolo": {VISIBLE: 2, OCCLUDED: 1, UNLABELLED: 0},
    "fld": FLD_CODES,
}
"""Numeric visibility codes of the formats that store one number per landmark."""

LABELSTUDIO_CHOICES: dict[int, str] = {VISIBLE: "visible", OCCLUDED: "occluded"}
"""Label Studio per-keypoint ``Choices`` values; unlabelled landmarks get no region at all."""


def _lookup(fmt: str) -> dict[int, int]:
    try:
        return FLAG_CODES[fmt]
    except KeyError:
        raise FormatError(f"no numeric visibility codes for format {fmt!r} (known: {', '.join(FLAG_CODES)})") from None


def canonical_flags(garment: Garment, visible_confidence: float = VISIBLE_CONFIDENCE) -> np.ndarray:
    """The garment's landmarks as canonical flags (int array of 2/1/0).

    Ground truth (``score is None``) must already hold 0/1/2; a prediction's confidences are
    thresholded at ``visible_confidence`` (see the module docstring).
    """
    v = garment.landmarks[:, 2]
    if garment.score is not None:
        return np.select([v >= visible_confidence, v > 0], [VISIBLE, OCCLUDED], UNLABELLED).astype(np.int64)
    flags = np.rint(v).astype(np.int64)
    bad = (flags != v) | (flags < UNLABELLED) | (flags > VISIBLE)
    if bad.any():
        raise FormatError(f"visibility must be 0, 1 or 2 for ground truth, got {v[bad][0]:g}")
    return flags


def to_codes(flags: np.ndarray, fmt: str) -> np.ndarray:
    """Canonical flags -> the numeric codes of ``fmt`` (``coco``, ``df2``, ``yolo``, ``fld``)."""
    codes = _lookup(fmt)
    flags = np.asarray(flags)
    return np.select([flags == VISIBLE, flags == OCCLUDED], [codes[VISIBLE], codes[OCCLUDED]], codes[UNLABELLED])


def from_codes(values: np.ndarray, fmt: str) -> np.ndarray:
    """The numeric codes of ``fmt`` -> canonical flags; raises :class:`FormatError` on an unknown code."""
    codes = _lookup(fmt)
    values = np.asarray(values, dtype=np.float64)
    known = np.isin(values, list(codes.values()))
    if not known.all():
        raise FormatError(f"{fmt} visibility must be one of {sorted(codes.values())}, got {values[~known][0]:g}")
    flags = np.select([values == codes[VISIBLE], values == codes[OCCLUDED]], [VISIBLE, OCCLUDED], UNLABELLED)
    return flags.astype(np.int64)


def to_cvat(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical flags -> CVAT's ``(outside, occluded)`` boolean arrays for skeleton points."""
    flags = np.asarray(flags)
    return flags == UNLABELLED, flags == OCCLUDED


def from_cvat(outside: np.ndarray, occluded: np.ndarray) -> np.ndarray:
    """CVAT ``outside`` / ``occluded`` flags -> canonical flags (outside wins over occluded)."""
    outside, occluded = np.asarray(outside, dtype=bool), np.asarray(occluded, dtype=bool)
    return np.select([outside, occluded], [UNLABELLED, OCCLUDED], VISIBLE).astype(np.int64)


def to_labelstudio(flag: int) -> str | None:
    """A canonical flag -> the Label Studio visibility choice (None: write no keypoint)."""
    return LABELSTUDIO_CHOICES.get(int(flag))


def from_labelstudio(choices: list[str] | None) -> int:
    """Label Studio visibility choices of a keypoint -> a canonical flag (no choice means visible)."""
    if not choices:
        return VISIBLE
    by_name = {name: flag for flag, name in LABELSTUDIO_CHOICES.items()}
    if choices[0] not in by_name:
        raise FormatError(f"unknown keypoint visibility {choices[0]!r} (known: {', '.join(by_name)})")
    return by_name[choices[0]]
