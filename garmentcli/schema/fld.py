"""The FLD (DeepFashion Fashion Landmark Detection) 8-landmark schema and its map onto DeepFashion2.

FLD annotates three clothes types with up to 8 landmarks. ``list_landmarks.txt`` stores each
type's landmarks in the first slots of 8, in the orders below; the COCO form of FLD uses the
eight named slots of :data:`FLD_LANDMARKS` for every type. "left" is the viewer's left, as in
DeepFashion2's ``_l`` (checked on real FLD samples: the left collar has the smaller x).

FLD visibility is 0 visible, 1 occluded, 2 truncated; DeepFashion2/COCO use 2 visible,
1 occluded, 0 not labelled (:data:`garmentcli.schema.visibility.FLD_CODES`; converted by
:func:`garmentcli.io.visibility.from_codes`).

FLD garments cannot be placed in a DeepFashion2 category without inventing facts (FLD does not say
whether a top has long or short sleeves, and an FLD "sleeve" point is the middle of a cuff, not a
DeepFashion2 landmark), so they keep their own form: the pseudo-category ids
:data:`FLD_CATEGORY_IDS` (101 upper-body, 102 lower-body, 103 full-body) and always the 8 slots of
:data:`FLD_LANDMARKS` (unused slots zero) with COCO visibility. Code written for DeepFashion2 fails
loudly on them (``DF2.category(101)`` raises) instead of mistaking them for shirts;
:func:`df2_to_fld` projects DeepFashion2 garments onto the same 8 slots for comparison.

:data:`FLD_TO_DF2` maps each FLD landmark to the DeepFashion2 semantic landmarks nearest to
it; where several are listed, their mean is the comparable point (an FLD "sleeve" point sits
at the middle of the cuff, between ``cuff_outer`` and ``cuff_inner``). The first alternative
whose names all exist in the DeepFashion2 category is used. This makes FLD and DeepFashion2
results comparable on the landmarks they share; it is approximate for dress waistlines, which
DeepFashion2 does not name (the second side point of a dress is used).
"""

from __future__ import annotations

import numpy as np

from garmentcli.errors import SchemaError
from garmentcli.schema.layout import DF2, Category

FLD_LANDMARKS: tuple[str, ...] = (
    "left_collar",
    "right_collar",
    "left_sleeve",
    "right_sleeve",
    "left_waistline",
    "right_waistline",
    "left_hem",
    "right_hem",
)
"""The eight FLD landmarks, in the slot order of the FLD COCO form (full-body order)."""

CLOTHES_TYPES: dict[int, tuple[str, ...]] = {
    1: ("left_collar", "right_collar", "left_sleeve", "right_sleeve", "left_hem", "right_hem"),
    2: ("left_waistline", "right_waistline", "left_hem", "right_hem"),
    3: FLD_LANDMARKS,
}
"""clothes_type (1 upper-body, 2 lower-body, 3 full-body) -> its landmarks in list_landmarks.txt order."""

CLOTHES_TYPE_NAMES = {1: "upper_body", 2: "lower_body", 3: "full_body"}

FLD_CATEGORY_BASE = 100
FLD_CATEGORY_IDS: dict[int, int] = {kind: FLD_CATEGORY_BASE + kind for kind in CLOTHES_TYPE_NAMES}
"""FLD clothes_type (1 upper, 2 lower, 3 full body) -> the pseudo-category id its garments carry."""
FLD_CATEGORY_NAMES: dict[int, str] = {
    FLD_CATEGORY_IDS[clothes_type]: f"fld_{name}" for clothes_type, name in CLOTHES_TYPE_NAMES.items()
}


def is_fld(category_id: int) -> bool:
    """True for the FLD pseudo-categories 101–103."""
    return category_id in FLD_CATEGORY_NAMES

_SIDES = {"left": "l", "right": "r"}
_PART_TO_DF2: dict[str, tuple[tuple[str, ...], ...]] = {
    "collar": (("neck",),),
    "sleeve": (("cuff_outer", "cuff_inner"), ("armpit",)),
    "waistline": (("waist",), ("dress_side_2",), ("vdress_side_2",), ("vest_side_1",)),
    "hem": (("hem",), ("leg_outer", "leg_inner")),
}

FLD_TO_DF2: dict[str, tuple[tuple[str, ...], ...]] = {
    name: tuple(
        tuple(f"{part}_{_SIDES[name.split('_')[0]]}" for part in option)
        for option in _PART_TO_DF2[name.split("_", 1)[1]]
    )
    for name in FLD_LANDMARKS
}
"""FLD landmark -> alternatives, each a tuple of DeepFashion2 semantic names to average."""


def df2_names_for(fld_name: str, category: Category) -> tuple[str, ...] | None:
    """The DeepFashion2 landmarks of ``category`` that stand for ``fld_name`` (None if it has none)."""
    if fld_name not in FLD_TO_DF2:
        raise SchemaError(f"unknown FLD landmark {fld_name!r}")
    for option in FLD_TO_DF2[fld_name]:
        if all(n in category.index for n in option):
            return option
    return None


def df2_to_fld(landmarks: np.ndarray, category_id: int) -> np.ndarray:
    """Project a garment's DeepFashion2 landmarks (K, 3) onto the 8 FLD slots (8, 3).

    A slot is the mean of its DeepFashion2 landmarks when all of them are labelled, with the
    lowest of their visibilities; otherwise it stays (0, 0, 0).
    """
    category = DF2.category(category_id)
    out = np.zeros((len(FLD_LANDMARKS), 3))
    for slot, fld_name in enumerate(FLD_LANDMARKS):
        names = df2_names_for(fld_name, category)
        if names is None:
            continue
        points = landmarks[[category.index[n] for n in names]]
        if np.all(points[:, 2] > 0):
            out[slot, :2] = points[:, :2].mean(axis=0)
            out[slot, 2] = points[:, 2].min()
    return out
