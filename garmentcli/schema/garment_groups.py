"""The six garment groups of RTFPose's per-category fine-tune, defined once: which categories each holds.

The paper fine-tunes one copy of its shared model per group (T-shirts/tops, outerwear, bottoms, dresses, vests,
slings) without listing their members; these are ours. Each group gathers the categories whose landmarks are
mostly the same semantic landmarks (:attr:`~garmentcli.schema.layout.Layout.semantic_groups`): a vest dress
shares its neckline, armholes and upper hem with the vest (21 landmark names for the two), a sling dress its
straps with the sling (21), and the sleeved dresses have sleeves the vest dress lacks. Every one of the 13
DeepFashion2 categories is in exactly one group.
"""

from __future__ import annotations

import numpy as np

from garmentcli.errors import SchemaError
from garmentcli.schema.layout import DF2

SHARED_HEAD = "shared"
"""The name of the shared model's head, beside the group names, where a model says which head a category uses."""

GARMENT_GROUPS: dict[str, tuple[str, ...]] = {
    "tops": ("short_sleeved_shirt", "long_sleeved_shirt"),
    "outerwear": ("short_sleeved_outwear", "long_sleeved_outwear"),
    "bottoms": ("shorts", "trousers", "skirt"),
    "dresses": ("short_sleeved_dress", "long_sleeved_dress"),
    "vests": ("vest", "vest_dress"),
    "slings": ("sling", "sling_dress"),
}
"""Each garment group -> the names of its DeepFashion2 categories."""


def group_categories(group: str) -> tuple[int, ...]:
    """The category ids of ``group``; a one-line :class:`SchemaError` for an unknown group."""
    if group not in GARMENT_GROUPS:
        raise SchemaError(f"unknown garment group {group!r} (known: {', '.join(GARMENT_GROUPS)})")
    return tuple(DF2.category(name).id for name in GARMENT_GROUPS[group])


def group_of(category_id: int) -> str:
    """The garment group of a DeepFashion2 category id."""
    return next(group for group in GARMENT_GROUPS if category_id in group_categories(group))


def group_landmark_rows(group: str) -> np.ndarray:
    """The semantic landmark groups (rows of the top-down model's output) of ``group``'s categories, ascending."""
    rows = {int(row) for category in group_categories(group) for row in DF2.group_of[DF2.category(category).slice]}
    return np.array(sorted(rows), dtype=np.int64)


def _check_partition() -> None:  # pragma: no cover - a development-time check
    members = [DF2.category(name).id for names in GARMENT_GROUPS.values() for name in names]
    if sorted(members) != sorted(DF2.ids):
        raise SchemaError("GARMENT_GROUPS do not hold each DeepFashion2 category exactly once")


_check_partition()
