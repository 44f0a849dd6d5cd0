"""Measurements against their true values: ``garmentkp measure --truth`` (figures for ``--report``).

The truth is either

* annotations whose garments carry ``measurements_cm`` (what ``garmentkp synth`` writes for every
  garment: the measurements of its true landmarks on the table, in cm), in any format
  :func:`~garmentcli.io.formats.read_annotations` reads; or
* a table of measurements as ``garmentkp measure`` writes it (CSV with ``image``, ``garment_id``,
  ``category`` and ``<name>_cm`` columns, or its JSON list), for instance sizes measured by hand
  and typed into that form.

A measured garment is paired with a true one of the same image (by file name; a bare file name
matches one under a folder) of the same category: the one whose box overlaps most (IoU ≥ 0.5; the
same garment id breaks a tie) where the truth has boxes (annotations); where it has none (a table),
the one with the same garment id, else the only one of that category in the image. Garment ids
alone are not trusted where boxes can say more: a detection's id numbers its detections, not the
ground truth.
"""

from __future__ import annotations

import csv
import posixpath
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from garmentcli.errors import InputError
from garmentcli.measure.runner import GarmentMeasurements
from garmentcli.metrics.similarity import box_iou_pairs
from garmentcli.schema.garments import category_id_of

MIN_IOU = 0.5


@dataclass
class TrueGarment:
    """One garment's true measurements (cm)."""

    image: str
    category_id: int
    values: dict[str, float]
    garment_id: int | None = None
    bbox: np.ndarray | None = None


def _measure_table(path: Path) -> list[dict[str, Any]] | None:
    """Rows of a ``measure`` output as ``{image, garment_id, category, measurements_cm}``; None when the file
    is not one."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            if "image" not in fields or not any(f.endswith("_cm") for f in fields):
                return None
            rows = []
            for line in reader:
                values = {
                    f[: -len("_cm")]: float(v)
                    for f, v in line.items()
                    if f and f.endswith("_cm") and v not in ("", None)
                }
                garment_id = line.get("garment_id") or None
                rows.append(
                    {
                        "image": line["image"],
                        "garment_id": int(float(garment_id)) if garment_id else None,
                        "category": line.get("category"),
                        "measurements_cm": values,
                    }
                )
            return rows
    if suffix == ".json":
        data = orjson.loads(path.read_bytes())
        if isinstance(data, list) and all(
            isinstance(d, dict) and "measurements_cm" in d and "image" in d for d in data
        ):
            return data
    return None


def read_truth(path: str | Path) -> list[TrueGarment]:
    """The true garments of ``path`` (see the module docstring); :class:`InputError` when it has none."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"--truth {path}: no such file or folder")
    found: list[TrueGarment] = []
    table = _measure_table(path) if path.is_file() else None
    if table is not None:
        for row in table:
            if not row.get("category"):
                raise InputError(f"--truth {path}: a row of image {row.get('image')!r} has no category")
            values = {k: float(v) for k, v in (row.get("measurements_cm") or {}).items() if v is not None}
            found.append(TrueGarment(str(row["image"]), category_id_of(row["category"]), values, row.get("garment_id")))
    else:
        from garmentcli.io.formats import read_annotations

        for record in read_annotations(path):
            for garment in record.garments:
                values = garment.extra.get("measurements_cm")
                if isinstance(values, Mapping):
                    clean = {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
                    found.append(TrueGarment(record.file_name, garment.category_id, clean, garment.id, garment.bbox))
    if not found:
        raise InputError(
            f"--truth {path}: no true measurements (garments with measurements_cm, or a measure CSV/JSON table)"
        )
    return found


def _image_keys(names: Iterable[str]) -> dict[str, str]:
    """Each name, and its bare file name where that is unique, to the name."""
    names = list(dict.fromkeys(names))
    keys = {n: n for n in names}
    bare = defaultdict(list)
    for n in names:
        bare[posixpath.basename(n.replace("\\", "/"))].append(n)
    for short, full in bare.items():
        if len(full) == 1:
            keys.setdefault(short, full[0])
    return keys


def pair_with_truth(
    rows: Sequence[GarmentMeasurements], truth: Sequence[TrueGarment]
) -> list[tuple[GarmentMeasurements, TrueGarment]]:
    """Measured garments with their true ones (the module docstring's rules); unpaired rows are left out."""
    by_image: dict[str, list[TrueGarment]] = defaultdict(list)
    for garment in truth:
        by_image[garment.image].append(garment)
    keys = _image_keys(by_image)
    pairs = []
    taken: set[int] = set()
    for row in rows:
        name = keys.get(row.image) or keys.get(posixpath.basename(row.image.replace("\\", "/")))
        candidates = [t for t in by_image.get(name or "", []) if id(t) not in taken]
        match = _match(row, candidates)
        if match is not None:
            taken.add(id(match))
            pairs.append((row, match))
    return pairs


def _match(row: GarmentMeasurements, candidates: list[TrueGarment]) -> TrueGarment | None:
    garment = row.garment
    kind = [t for t in candidates if t.category_id == garment.category_id]
    boxed = [t for t in kind if t.bbox is not None]
    if boxed:
        iou = box_iou_pairs(
            np.repeat(garment.bbox[None], len(boxed), axis=0), np.array([t.bbox for t in boxed]), np.zeros(len(boxed))
        )
        same_id = np.array([garment.id is not None and t.garment_id == garment.id for t in boxed])
        best = int(np.lexsort((~same_id, -iou))[0])  # best overlap; the same id on a tie
        return boxed[best] if iou[best] >= MIN_IOU else None
    same = [t for t in kind if garment.id is not None and t.garment_id == garment.id]
    if same:
        return same[0]
    return kind[0] if len(kind) == 1 else None


@dataclass
class MeasurementErrors:
    """Signed errors (measured - true, cm) per measurement, and what could not be compared."""

    errors: dict[str, np.ndarray] = field(default_factory=dict)
    true_values: dict[str, np.ndarray] = field(default_factory=dict)
    measured_values: dict[str, np.ndarray] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    """Per measurement: true values whose garment was paired but gave no measured value."""
    paired: int = 0
    unpaired_rows: int = 0
    unmeasured_truth: int = 0
    """True garments no measured garment was paired with."""

    def summary(self) -> dict[str, dict[str, float]]:
        """Per measurement: count, median and 95th-percentile absolute error, mean signed error (bias), missing."""
        out = {}
        for name, errors in self.errors.items():
            absolute = np.abs(errors)
            out[name] = {
                "count": int(errors.size),
                "median_abs_cm": float(np.median(absolute)) if errors.size else -1.0,
                "p95_abs_cm": float(np.percentile(absolute, 95)) if errors.size else -1.0,
                "bias_cm": float(np.mean(errors)) if errors.size else -1.0,
                "missing": int(self.missing.get(name, 0)),
            }
        return out


def measurement_errors(
    rows: Sequence[GarmentMeasurements], truth: Sequence[TrueGarment], names: Sequence[str]
) -> MeasurementErrors:
    """Pair ``rows`` with ``truth`` and collect each measurement's errors, in the order of ``names``."""
    pairs = pair_with_truth(rows, truth)
    errors: dict[str, list[float]] = defaultdict(list)
    true_values: dict[str, list[float]] = defaultdict(list)
    measured: dict[str, list[float]] = defaultdict(list)
    missing: dict[str, int] = defaultdict(int)
    for row, true in pairs:
        for name, value in true.values.items():
            found = row.values.get(name)
            if found is None or found.value is None:
                missing[name] += 1
                continue
            errors[name].append(found.value - value)
            true_values[name].append(value)
            measured[name].append(found.value)
    order = [n for n in names if n in errors or n in missing] + sorted(set(errors) - set(names))
    result = MeasurementErrors(
        errors={n: np.asarray(errors.get(n, []), dtype=float) for n in order},
        true_values={n: np.asarray(true_values.get(n, []), dtype=float) for n in order},
        measured_values={n: np.asarray(measured.get(n, []), dtype=float) for n in order},
        missing={n: missing.get(n, 0) for n in order},
        paired=len(pairs),
        unpaired_rows=len(rows) - len(pairs),
        unmeasured_truth=len(truth) - len(pairs),
    )
    return result
