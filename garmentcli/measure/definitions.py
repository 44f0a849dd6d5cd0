"""Measurement definitions: data (``definitions.yaml``) parsed by a validating loader, applied to plane points.

A definition names landmarks by their DeepFashion2 semantic names and a method (``distance``,
``outline`` or ``drop``, see the bundled YAML). :func:`load_definitions` compiles every
definition, per category, into landmark index paths once; :func:`measure_garment` then applies
them to one garment's points (in cm on the table plane) with its landmark states, and
:func:`measure_points` is the plain ``{name: cm or None}`` form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from garmentcli.errors import FormatError, InputError
from garmentcli.schema.layout import DF2, Category, mirror_name
from garmentcli.schema.visibility import OCCLUDED, UNLABELLED, VISIBLE
from garmentcli.settings import first_problem

METHOD_ARITY = {"distance": 2, "outline": 2, "drop": 3}
"""How many landmarks each method takes."""

MISSING = UNLABELLED
"""A landmark a measurement cannot use (with :data:`OCCLUDED` and :data:`VISIBLE`, the ground-truth flags)."""

@dataclass(frozen=True)
class Side:
    """One way to take a measurement: the landmark indices of its path (or point + line)."""

    names: tuple[str, ...]
    """``distance``/``outline``: the polyline through these landmarks; ``drop``: point, line_a, line_b."""
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Definition:
    """A measurement compiled for one category: one side, or two mirrored sides averaged."""

    name: str
    method: str
    sides: tuple[Side, ...]
    description: str = ""


@dataclass(frozen=True)
class Definitions:
    """Compiled definitions by category id, in file order."""

    by_category: dict[int, tuple[Definition, ...]]
    source: str

    def names(self, category_id: int) -> list[str]:
        return [d.name for d in self.by_category.get(category_id, ())]

    def all_names(self) -> list[str]:
        """Every measurement name across categories, first-seen order (the CSV column order)."""
        seen: dict[str, None] = {}
        for definitions in self.by_category.values():
            seen.update((d.name, None) for d in definitions)
        return list(seen)


@dataclass(frozen=True)
class Measurement:
    """One measurement of one garment: the value in cm, or ``None`` with the reason."""

    value: float | None
    occluded: bool = False
    """True when the value rests on landmarks marked occluded."""
    reason: str = ""


def _outline_path(category: Category, start: str, end: str) -> tuple[str, ...] | None:
    """Landmark names along the outline from ``start`` to ``end``, the fewest segments over all polylines."""
    best: list[str] | None = None
    for chain in category.outline:
        walk = list(chain) + list(chain[1:]) if chain[0] == chain[-1] else list(chain)
        starts = [i for i, n in enumerate(walk) if n == start]
        ends = [i for i, n in enumerate(walk) if n == end]
        for i in starts:
            for j in ends:
                path = walk[min(i, j) : max(i, j) + 1]
                path = path if i <= j else path[::-1]
                if len(path) >= 2 and (best is None or len(path) < len(best)):
                    best = path
    return None if best is None else tuple(best)


def _compile_side(category: Category, method: str, names: tuple[str, ...], where: str) -> Side:
    unknown = [n for n in names if n not in category.index]
    if unknown:
        raise FormatError(f"{where}: unknown landmark {unknown[0]!r} for category {category.name}")
    if method == "outline":
        path = _outline_path(category, names[0], names[1])
        if path is None:
            raise FormatError(f"{where}: {names[0]} and {names[1]} share no outline polyline in {category.name}")
        names = path
    return Side(names, tuple(category.index[n] for n in names))


class _Entry(BaseModel):
    """One measurement of a definitions document, as written; checked field by field."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    categories: Annotated[list[StrictStr | StrictInt], Field(min_length=1)]
    method: Literal["distance", "outline", "drop"]
    landmarks: list[StrictStr]
    mirror: StrictBool = False

    @field_validator("name")
    @classmethod
    def _a_word(cls, name: str) -> str:
        if not name.isidentifier():
            raise ValueError("must be a word such as chest_width")
        return name

    @field_validator("categories", mode="before")
    @classmethod
    def _one_or_many(cls, categories: Any) -> Any:
        return [categories] if isinstance(categories, str | int) else categories

    @model_validator(mode="after")
    def _arity(self) -> _Entry:
        if len(self.landmarks) != METHOD_ARITY[self.method]:
            raise ValueError(
                f"method {self.method} takes {METHOD_ARITY[self.method]} landmarks, got {len(self.landmarks)}"
            )
        return self


def _parse_entry(entry: Any, where: str) -> _Entry:
    if not isinstance(entry, dict):
        raise FormatError(f"{where}: expected a mapping with name, categories, method, landmarks")
    if isinstance(entry.get("name"), str):
        where = f"{where} ({entry['name']})"
    try:
        return _Entry.model_validate(entry)
    except ValidationError as exc:
        raise FormatError(f"{where}: {first_problem(exc)}") from None


def parse_definitions(raw: Any, source: str = "definitions") -> Definitions:
    """Validate a definitions document and compile it per category; errors are one line naming the entry."""
    if not isinstance(raw, dict) or not isinstance(raw.get("measurements"), list):
        raise FormatError(f"{source}: expected a mapping with a 'measurements' list")
    by_category: dict[int, list[Definition]] = {}
    for number, entry in enumerate(raw["measurements"], start=1):
        where = f"{source}: measurement {number}"
        parsed = _parse_entry(entry, where)
        name, method, names = parsed.name, parsed.method, tuple(parsed.landmarks)
        categories, mirror, description = parsed.categories, parsed.mirror, parsed.description
        where = f"{where} ({name})"
        for key in categories:
            category = DF2.by_name.get(key) if isinstance(key, str) else DF2.by_id.get(key)
            if category is None:
                raise FormatError(f"{where}: unknown category {key!r} (known: {', '.join(DF2.by_name)})")
            sides = [_compile_side(category, method, names, where)]
            mirrored = tuple(mirror_name(n) for n in names)
            if mirror and set(mirrored) != set(names):
                sides.append(_compile_side(category, method, mirrored, where))
            known = by_category.setdefault(category.id, [])
            if any(d.name == name for d in known):
                raise FormatError(f"{where}: {name} is defined twice for category {category.name}")
            known.append(Definition(name, method, tuple(sides), description))
    return Definitions({cid: tuple(defs) for cid, defs in by_category.items()}, source)


def load_definitions(path: str | Path | None = None) -> Definitions:
    """The bundled definitions, or a user's JSON/YAML file (validated)."""
    if path is None:
        return bundled_definitions()
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read definitions ({exc.strerror or exc})") from exc
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise FormatError(f"{path}: not valid {kind}: {first_line}") from exc
    return parse_definitions(raw, str(path))


@cache
def bundled_definitions() -> Definitions:
    """The garment-industry flat measurements shipped with the package, parsed once."""
    text = resources.files("garmentcli.measure").joinpath("definitions.yaml").read_text("utf-8")
    return parse_definitions(yaml.safe_load(text), "definitions.yaml")


def _side_length(method: str, points: np.ndarray) -> float:
    if method == "drop":
        point, line_a, line_b = points
        direction = line_b - line_a
        length = float(np.hypot(*direction))
        if length == 0.0:
            return float("nan")
        offset = point - line_a
        return abs(float(direction[0] * offset[1] - direction[1] * offset[0])) / length
    return float(np.hypot(*np.diff(points, axis=0).T).sum())


def _measure(definition: Definition, points: np.ndarray, states: np.ndarray) -> Measurement:
    usable = []
    missing: list[str] = []
    for side in definition.sides:
        side_states = states[list(side.indices)]
        if np.any(side_states == MISSING):
            missing.extend(n for n, i in zip(side.names, side.indices, strict=True) if states[i] == MISSING)
            continue
        value = _side_length(definition.method, points[list(side.indices)])
        if np.isfinite(value):
            usable.append((value, bool(np.any(side_states == OCCLUDED))))
    if not usable:
        reason = f"missing {', '.join(dict.fromkeys(missing))}" if missing else "degenerate line"
        return Measurement(None, reason=reason)
    visible_only = [v for v, occluded in usable if not occluded]
    if visible_only:
        return Measurement(float(np.mean(visible_only)))
    return Measurement(float(np.mean([v for v, _ in usable])), occluded=True, reason="occluded landmarks")


def states_from_visibility(visibility: Sequence[float] | np.ndarray | None, count: int) -> np.ndarray:
    """Ground-truth style visibility (0 missing, 1 occluded, 2 visible) as states; ``None`` = all visible."""
    if visibility is None:
        return np.full(count, VISIBLE, dtype=np.int64)
    states = np.asarray(visibility, dtype=np.float64).reshape(-1)
    if states.shape[0] != count:
        raise FormatError(f"{states.shape[0]} visibility values for {count} landmarks")
    return np.where(states >= 2, VISIBLE, np.where(states >= 1, OCCLUDED, MISSING))


def measure_garment(
    category_id: int,
    points_xy: np.ndarray,
    states: np.ndarray,
    definitions: Definitions | None = None,
) -> dict[str, Measurement]:
    """Every measurement defined for the category, from ``(K, 2)`` plane points and ``(K,)`` landmark states."""
    category = DF2.category(category_id)
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    if points.shape[0] != category.num_landmarks:
        raise FormatError(f"{category.name} needs {category.num_landmarks} points, got {points.shape[0]}")
    definitions = definitions or bundled_definitions()
    return {d.name: _measure(d, points, states) for d in definitions.by_category.get(category.id, ())}


def measure_points(
    category_id: int,
    points_xy: np.ndarray,
    visibility: Sequence[float] | np.ndarray | None = None,
    definitions: Definitions | None = None,
) -> dict[str, float | None]:
    """``{name: cm}`` for a garment's ``(K, 2)`` points in cm (``None`` where landmarks are missing).

    ``visibility`` follows DeepFashion2 ground truth (0 not labelled, 1 occluded, 2 visible);
    ``None`` means every landmark is visible.
    """
    category = DF2.category(category_id)
    states = states_from_visibility(visibility, category.num_landmarks)
    measured = measure_garment(category.id, points_xy, states, definitions)
    return {name: m.value for name, m in measured.items()}
