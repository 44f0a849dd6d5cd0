"""The garment kinds the readers and writers know: the 13 DeepFashion2 categories and the 3 FLD clothes types.

DeepFashion2 garments use the dataset's category ids 1–13 and store their category's landmarks.
FLD garments cannot be placed in a DeepFashion2 category without inventing facts (FLD does not say
whether a top has long or short sleeves, and an FLD "sleeve" point is the middle of a cuff, not a
DeepFashion2 landmark), so they keep their own form: category ids :data:`FLD_CATEGORY_IDS`
(101 upper-body, 102 lower-body, 103 full-body) and always the 8 FLD slots of
:data:`~garmentcli.schema.fld.FLD_LANDMARKS` (unused slots zero) with COCO visibility
(2 visible, 1 occluded, 0 not labelled / truncated). Code written for DeepFashion2 fails loudly
on them (``DF2.category(101)`` raises) instead of mistaking them for shirts;
:func:`garmentcli.schema.fld.df2_to_fld` projects DeepFashion2 garments onto the same 8 slots
for comparison.
"""

from __future__ import annotations

import numpy as np

from garmentcli.errors import FormatError, SchemaError
from garmentcli.schema.fld import CLOTHES_TYPE_NAMES, FLD_LANDMARKS
from garmentcli.schema.layout import DF2, NUM_LANDMARKS
from garmentcli.schema.records import Garment

_VECTOR_LENGTH = 3 * NUM_LANDMARKS
FLD_CATEGORY_BASE = 100
FLD_CATEGORY_IDS: dict[int, int] = {kind: FLD_CATEGORY_BASE + kind for kind in CLOTHES_TYPE_NAMES}
"""FLD clothes_type (1 upper, 2 lower, 3 full body) -> the category id its garments carry."""
FLD_CATEGORY_NAMES: dict[int, str] = {
    FLD_CATEGORY_IDS[clothes_type]: f"fld_{name}" for clothes_type, name in CLOTHES_TYPE_NAMES.items()
}


def is_fld(category_id: int) -> bool:
    """True for the FLD pseudo-categories 101–103."""
    return category_id in FLD_CATEGORY_NAMES


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
