"""The garment kinds every reader and writer knows, and the one way a garment dict becomes a :class:`Garment`.

Kinds: the 13 DeepFashion2 categories (ids 1–13, each storing its own landmarks) and the 3 FLD
clothes types (pseudo-categories 101–103 with the 8 FLD slots, see :mod:`garmentcli.schema.fld`).
:func:`category_id_of` turns an id or a name into a category id, :func:`landmarks_from_flat` a flat
landmark list into the category's ``(K, 3)`` rows, and :func:`garment_from_fields` the fields a
reader took out of its format into a validated garment: the readers map their own key names and
leave the rest (score, id, segmentation, attributes, extra keys, the checks) to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from garmentcli.errors import FormatError, SchemaError
from garmentcli.schema.fld import FLD_CATEGORY_NAMES, FLD_LANDMARKS, is_fld
from garmentcli.schema.layout import DF2, NUM_LANDMARKS
from garmentcli.schema.records import ATTRIBUTE_KEYS, Garment

_VECTOR_LENGTH = 3 * NUM_LANDMARKS


def landmark_names(category_id: int) -> tuple[str, ...]:
    """The landmark names of a DeepFashion2 category or an FLD clothes type, in storage order."""
    if is_fld(category_id):
        return FLD_LANDMARKS
    return DF2.category(category_id).landmarks


def category_name(category_id: int) -> str:
    if is_fld(category_id):
        return FLD_CATEGORY_NAMES[category_id]
    return DF2.category(category_id).name


def category_id_of(key: int | float | str | np.generic) -> int:
    """A category id from an id or a name (DeepFashion2 or FLD); raises :class:`SchemaError` when unknown."""
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    if isinstance(key, str) and key.strip().lstrip("-").isdigit():
        key = int(key)
    if isinstance(key, int):
        if is_fld(key) or key in DF2.by_id:
            return key
        raise SchemaError(f"unknown garment category {key!r} (DeepFashion2 ids 1-13, FLD 101-103)")
    if not isinstance(key, str):
        raise SchemaError(f"unknown garment category {key!r} (neither an id nor a name)")
    for fld_id, name in FLD_CATEGORY_NAMES.items():
        if key == name:
            return fld_id
    return DF2.category(normalise_name(key)).id


def normalise_name(name: str) -> str:
    """``"Short sleeved shirt"`` / ``"short-sleeved shirt"`` -> ``"short_sleeved_shirt"``."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def validate_garment(garment: Garment) -> None:
    """Raise a one-line :class:`FormatError` when the garment cannot be right (DeepFashion2 or FLD)."""
    if is_fld(garment.category_id):
        if garment.landmarks.shape != (len(FLD_LANDMARKS), 3):
            raise FormatError(
                f"FLD garments need {len(FLD_LANDMARKS)} landmark slots, got {garment.landmarks.shape[0]}"
            )
        garment.validate_values()
        return
    try:
        garment.validate()
    except SchemaError as exc:
        raise FormatError(str(exc)) from exc


def landmarks_from_flat(category_id: int, values: object, *, allow_294: bool = True) -> np.ndarray:
    """A ``(K, 3)`` landmark array from a flat list of the category's ``K*3`` values (or DeepFashion2's 882).

    Raises :class:`FormatError` naming the lengths when the vector fits neither.
    """
    names = landmark_names(category_id)
    if values is None:
        return np.zeros((len(names), 3))
    if allow_294 and isinstance(values, list) and len(values) == _VECTOR_LENGTH and not is_fld(category_id):
        part = DF2.category(category_id).slice
        values = values[3 * part.start : 3 * part.stop]  # convert only the category's slice
    try:
        flat = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise FormatError(f"landmark vector is not a list of numbers ({exc})") from exc
    if flat.size == 3 * len(names):
        return flat.reshape(-1, 3)
    if allow_294 and not is_fld(category_id) and flat.size == _VECTOR_LENGTH:
        return flat.reshape(-1, 3)[DF2.category(category_id).slice].copy()  # not a view into a larger array
    if flat.size == 0:
        return np.zeros((len(names), 3))
    expected = f"{3 * len(names)}" + ("" if is_fld(category_id) or not allow_294 else f" or {_VECTOR_LENGTH}")
    raise FormatError(f"landmark vector has {flat.size} values, {category_name(category_id)} needs {expected}")


def garment_from_fields(
    entry: Mapping[str, Any],
    category_id: int,
    bbox: Any,
    landmarks: Any,
    consumed: Collection[str],
    *,
    id_key: str | None = "id",
    allow_294: bool = True,
) -> Garment:
    """A validated garment from one reader's entry: ``bbox`` ``[x, y, w, h]`` and ``landmarks`` (a flat list,
    see :func:`landmarks_from_flat`, or ``(K, 3)`` rows) as the reader found them; ``score``, ``id_key``
    and ``segmentation`` from ``entry``, the DeepFashion2 attributes in the entry's own order, and every
    key neither ``consumed`` by the reader nor an attribute kept in ``extra`` for writing back.

    Raises a one-line :class:`FormatError`.
    """
    if not isinstance(landmarks, np.ndarray) or landmarks.ndim != 2:
        landmarks = landmarks_from_flat(category_id, landmarks, allow_294=allow_294)
    score = entry.get("score")
    try:
        garment = Garment(
            category_id,
            bbox,
            landmarks,
            score=None if score is None else float(score),
            id=entry.get(id_key) if id_key else None,
            segmentation=entry.get("segmentation") or None,
            attributes={k: v for k, v in entry.items() if k in ATTRIBUTE_KEYS},  # the file's order, written back
            extra={k: v for k, v in entry.items() if k not in consumed and k not in ATTRIBUTE_KEYS},
        )
    except (TypeError, ValueError) as exc:
        raise FormatError(f"bbox or score is not numeric ({exc})") from None
    validate_garment(garment)
    return garment
