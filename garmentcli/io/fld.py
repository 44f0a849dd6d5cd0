"""The DeepFashion Fashion Landmark Detection (FLD) text files.

``Anno/list_landmarks.txt`` (count, header, then ``image_name clothes_type variation_type``
and up to 8 × ``visibility x y``), ``Anno/list_bbox.txt`` (``image_name x_1 y_1 x_2 y_2``) and
``Eval/list_eval_partition.txt`` (``image_name evaluation_status``). The three may also lie side
by side in one folder. How FLD garments live in the model is explained in
:mod:`garmentcli.schema.fld`: category 101/102/103 for upper/lower/full body, the 8 FLD slots
(a type's landmarks land in their named slots, the rest stay zero) with COCO visibility
(FLD truncated becomes 0 "not labelled" with its coordinates kept). ``variation_type`` is kept
in the garment's ``extra``, ``evaluation_status`` in the image's. Without ``list_bbox.txt`` the
box is the extent of the labelled landmarks. The FLD COCO form is read by :mod:`garmentcli.io.coco`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from garmentcli.errors import FormatError, InputError
from garmentcli.io.coco import box_from_landmarks
from garmentcli.io.df2 import image_id_from_name
from garmentcli.io.images import image_size
from garmentcli.io.jsonio import OnError, raise_on_error
from garmentcli.io.visibility import from_codes
from garmentcli.schema.fld import CLOTHES_TYPES, FLD_CATEGORY_IDS, FLD_LANDMARKS
from garmentcli.schema.garments import validate_garment
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

LANDMARKS_FILE, BBOX_FILE, PARTITION_FILE = "list_landmarks.txt", "list_bbox.txt", "list_eval_partition.txt"
_SLOTS = len(FLD_LANDMARKS)
_FIELDS = 3 + 3 * _SLOTS
_HEADER_LINES = 2
_SLOT_OF = {kind: np.array([FLD_LANDMARKS.index(n) for n in names]) for kind, names in CLOTHES_TYPES.items()}


def find_fld_files(path: Path) -> dict[str, Path] | None:
    """Locate the FLD lists from a folder or from ``list_landmarks.txt`` itself (None when absent).

    Returns ``{"root", "landmarks", "bbox"?, "partition"?}``; ``root`` is where image names resolve.
    """
    if path.is_file():
        folder = path.parent
        landmarks = path
    else:
        folder = path / "Anno" if (path / "Anno" / LANDMARKS_FILE).is_file() else path
        landmarks = folder / LANDMARKS_FILE
        if not landmarks.is_file():
            return None
    root = folder.parent if folder.name == "Anno" else folder
    found = {"root": root, "landmarks": landmarks}
    for key, name, subfolder in (("bbox", BBOX_FILE, "Anno"), ("partition", PARTITION_FILE, "Eval")):
        for candidate in (folder / name, root / subfolder / name):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def _read_table(path: Path, columns: int, on_error: OnError) -> pd.DataFrame:
    """A whitespace-separated FLD list (2 header lines) as strings; over-long lines reported and skipped."""

    def bad_line(fields: list[str]) -> None:
        on_error(f"{path}: entry {fields[0]!r}: {len(fields)} fields, expected at most {columns}")

    try:
        return pd.read_csv(
            path,
            sep=r"\s+",
            skiprows=_HEADER_LINES,
            header=None,
            names=range(columns),
            dtype=str,
            engine="python",
            on_bad_lines=bad_line,
            quoting=csv.QUOTE_NONE,
        )
    except pd.errors.EmptyDataError:
        raise FormatError(f"{path}: no entries") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def _lookup(path: Path | None, columns: int, on_error: OnError) -> dict[str, list[str]]:
    if path is None:
        return {}
    table = _read_table(path, columns, on_error)
    return {row[0]: list(row[1:]) for row in table.itertuples(index=False)}


def _landmark_rows(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """clothes types (N,), variation types (N,), raw triples (N, 8, 3) as ``visibility, x, y``; NaN where missing."""
    numbers = table.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return numbers[:, 0], numbers[:, 1], numbers[:, 2:].reshape(-1, _SLOTS, 3)


def _garment(clothes_type: float, variation: float, triples: np.ndarray, box: list[str] | None) -> Garment:
    if clothes_type not in CLOTHES_TYPES:
        raise FormatError(f"clothes_type {clothes_type:g} is not 1, 2 or 3")
    slots = _SLOT_OF[int(clothes_type)]
    used = triples[: len(slots)]
    if np.isnan(used).any():
        raise FormatError(f"needs {len(slots)} visibility/x/y triples of numbers")
    if not np.isin(used[:, 0], (0, 1, 2)).all():
        raise FormatError("visibility must be 0 visible, 1 occluded or 2 truncated")
    landmarks = np.zeros((_SLOTS, 3))
    landmarks[slots, :2] = used[:, 1:]
    landmarks[slots, 2] = from_codes(used[:, 0], "fld")
    if box is not None:
        try:
            x1, y1, x2, y2 = (float(v) for v in box)
        except (TypeError, ValueError):
            raise FormatError(f"bbox {box} is not 4 numbers") from None
        bbox = np.array([x1, y1, x2 - x1, y2 - y1])
    else:
        bbox = box_from_landmarks(landmarks)
    extra = {} if np.isnan(variation) else {"variation_type": int(variation)}
    garment = Garment(FLD_CATEGORY_IDS[int(clothes_type)], bbox, landmarks, extra=extra)
    validate_garment(garment)
    return garment


def read_fld(path: Path, on_error: OnError = raise_on_error) -> AnnotationSet:
    """Read FLD ``list_landmarks.txt`` (+ ``list_bbox.txt``, ``list_eval_partition.txt`` when beside it)."""
    files = find_fld_files(Path(path))
    if files is None:
        raise InputError(f"{path}: no {LANDMARKS_FILE} here or in Anno/")
    table = _read_table(files["landmarks"], _FIELDS, on_error)
    boxes = _lookup(files.get("bbox"), 5, on_error)
    partition = _lookup(files.get("partition"), 2, on_error)
    clothes, variations, triples = _landmark_rows(table)
    records: list[ImageRecord] = []
    seen: set[int] = set()
    for row, name in enumerate(table.iloc[:, 0]):
        try:
            image_id = image_id_from_name(name)
            if image_id in seen:
                raise FormatError(f"image id {image_id} repeats an earlier entry's, skipped")
            garment = _garment(clothes[row], variations[row], triples[row], boxes.get(name))
            record = ImageRecord(image_id, name, garments=[garment])
            if name in partition:
                record.extra["evaluation_status"] = partition[name][0]
            image = files["root"] / name
            if image.is_file():
                record.width, record.height = image_size(image)
        except InputError as exc:
            on_error(f"{files['landmarks']}: entry {name!r}: {exc}")
            continue
        seen.add(image_id)
        records.append(record)
    return AnnotationSet(records)
