"""The DeepFashion2 garment layout: 13 categories, 294 landmarks, names, flips, groups, sigmas.

The facts live in ``deepfashion2.json`` beside this module (data, not code). They are parsed
once by :func:`load_layout`, which validates them and derives everything else: offsets into the
294-long vector, the flip permutation (partners found by swapping the ``_l``/``_r`` suffix of a
landmark's name), and the semantic groups (landmarks with the same name across categories).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources

import numpy as np

from garmentcli.errors import SchemaError

NUM_LANDMARKS = 294
"""Length of the DeepFashion2 landmark vector (all categories side by side)."""


def mirror_name(name: str) -> str:
    """The name of a landmark's horizontal-flip partner (itself when it lies on the centre line)."""
    if name.endswith("_l"):
        return name[:-2] + "_r"
    if name.endswith("_r"):
        return name[:-2] + "_l"
    return name


@dataclass(frozen=True)
class Category:
    """One garment category and its landmarks, in dataset order."""

    id: int
    name: str
    landmarks: tuple[str, ...]
    oks_sigmas: tuple[float, ...]
    offset: int
    outline: tuple[tuple[str, ...], ...]
    index: dict[str, int] = field(repr=False, compare=False, hash=False)

    @property
    def num_landmarks(self) -> int:
        return len(self.landmarks)

    @property
    def slice(self) -> slice:
        """Where this category's landmarks sit in the 294-long vector."""
        return slice(self.offset, self.offset + self.num_landmarks)

    @cached_property
    def flip_index(self) -> np.ndarray:
        """``flip_index[i]`` is the landmark that ``i`` becomes under a horizontal flip."""
        return np.array([self.index[mirror_name(n)] for n in self.landmarks], dtype=np.int64)

    def outline_indices(self) -> list[list[int]]:
        """The outline polylines as landmark indices within this category."""
        return [[self.index[n] for n in chain] for chain in self.outline]


@dataclass(frozen=True)
class Layout:
    """All categories, with lookups by id and name and the derived 294-wide arrays."""

    categories: tuple[Category, ...]

    @cached_property
    def by_id(self) -> dict[int, Category]:
        return {c.id: c for c in self.categories}

    @cached_property
    def by_name(self) -> dict[str, Category]:
        return {c.name: c for c in self.categories}

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.categories]

    def category(self, key: int | str) -> Category:
        """Look a category up by id or name; raises :class:`SchemaError` when unknown."""
        found = self.by_id.get(key) if isinstance(key, int) else self.by_name.get(key)
        if found is None:
            raise SchemaError(f"unknown garment category {key!r} (known: {', '.join(self.by_name)})")
        return found

    @cached_property
    def oks_sigmas(self) -> np.ndarray:
        """The official 294 OKS sigmas, in vector order."""
        return np.concatenate([np.asarray(c.oks_sigmas) for c in self.categories])

    @cached_property
    def flip_index(self) -> np.ndarray:
        """The 294-long flip permutation (each category's partners, in vector positions)."""
        return np.concatenate([c.flip_index + c.offset for c in self.categories])

    @cached_property
    def semantic_groups(self) -> tuple[str, ...]:
        """Landmark names shared across categories, sorted: one group per distinct name."""
        return tuple(sorted({n for c in self.categories for n in c.landmarks}))

    @cached_property
    def group_of(self) -> np.ndarray:
        """``group_of[k]`` is the semantic-group index of vector position ``k`` (294 long)."""
        index = {n: i for i, n in enumerate(self.semantic_groups)}
        return np.array([index[n] for c in self.categories for n in c.landmarks], dtype=np.int64)


def _parse_category(raw: dict, offset: int) -> Category:
    name = raw.get("name", "?")
    landmarks = tuple(raw["landmarks"])
    sigmas = tuple(float(s) for s in raw["oks_sigmas"])
    if len(set(landmarks)) != len(landmarks):
        raise SchemaError(f"category {name}: duplicate landmark names")
    if len(sigmas) != len(landmarks):
        raise SchemaError(f"category {name}: {len(sigmas)} sigmas for {len(landmarks)} landmarks")
    index = {n: i for i, n in enumerate(landmarks)}
    missing_partner = [n for n in landmarks if mirror_name(n) not in index]
    if missing_partner:
        raise SchemaError(f"category {name}: no flip partner for {missing_partner}")
    outline = tuple(tuple(chain) for chain in raw["outline"])
    unknown = {n for chain in outline for n in chain} - set(landmarks)
    if unknown:
        raise SchemaError(f"category {name}: outline names unknown landmarks {sorted(unknown)}")
    return Category(int(raw["id"]), name, landmarks, sigmas, offset, outline, index)


def parse_layout(raw: dict) -> Layout:
    """Validate a layout document (the form of ``deepfashion2.json``) and build a :class:`Layout`."""
    categories = []
    offset = 0
    for entry in raw["categories"]:
        category = _parse_category(entry, offset)
        categories.append(category)
        offset += category.num_landmarks
    if offset != NUM_LANDMARKS:
        raise SchemaError(f"layout has {offset} landmarks, expected {NUM_LANDMARKS}")
    return Layout(tuple(categories))


def load_layout() -> Layout:
    """The bundled DeepFashion2 layout."""
    text = resources.files("garmentcli.schema").joinpath("deepfashion2.json").read_text("utf-8")
    return parse_layout(json.loads(text))


DF2 = load_layout()
"""The DeepFashion2 layout, parsed once at import."""
