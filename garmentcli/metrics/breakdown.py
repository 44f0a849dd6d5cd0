"""Breakdowns by category and by the DeepFashion2 attributes (scale, occlusion, zoom_in, viewpoint)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from garmentcli.metrics.instances import ATTRIBUTES
from garmentcli.schema.garments import category_name

ATTRIBUTE_VALUE_NAMES: dict[str, dict[int, str]] = {
    "scale": {1: "small", 2: "moderate", 3: "large"},
    "occlusion": {1: "slight", 2: "medium", 3: "heavy"},
    "zoom_in": {1: "none", 2: "medium", 3: "large"},
    "viewpoint": {1: "no_wear", 2: "frontal", 3: "side_or_back"},
}
"""DeepFashion2 attribute values and their names, as the dataset documents them."""


def attribute_groups(attributes: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """``("occlusion=heavy", mask)`` for each attribute value present (0 = absent is skipped)."""
    for key in ATTRIBUTES:
        values = attributes.get(key)
        if values is None:
            continue
        for value in np.unique(values[values > 0]).tolist():
            yield f"{key}={ATTRIBUTE_VALUE_NAMES[key].get(value, value)}", values == value


def category_groups(category_id: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """``(category name, mask)`` for each category present."""
    for value in np.unique(category_id).tolist():
        yield category_name(value), category_id == value
