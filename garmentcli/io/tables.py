"""CSV tables for spreadsheets and pandas: a wide form (one row per garment) and a long form (one per landmark).

Wide: ``image_id, file_name, width, height, garment_id, category_id, category_name``, the
DeepFashion2 attributes present, ``score, box_x, box_y, box_w, box_h``, then ``<landmark>_x``,
``<landmark>_y``, ``<landmark>_v`` for every landmark name of the categories present (landmarks
with the same semantic name share columns across categories; a garment fills only its own
category's). An image without garments is a row with an empty category. Reading the wide form
back is lossless for everything but ``segmentation`` and ``extra`` keys, which CSV does not hold.

Long: ``image_id, file_name, garment, garment_id, category_id, category_name, landmark_index``
(1-based within the category), ``landmark, score, x, y, v``; ``garment`` numbers the
garments of the file from 0. It is for analysis and is not read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from garmentcli.errors import FormatError, InputError, SchemaError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.jsonio import OnError, raise_on_error
from garmentcli.schema.garments import category_id_of, category_name, landmark_names, validate_garment
from garmentcli.schema.records import ATTRIBUTE_KEYS, AnnotationSet, Garment, ImageRecord

BOX_COLUMNS = ("box_x", "box_y", "box_w", "box_h")
_CSV_CHUNK = 4096
_AXES = ("x", "y", "v")


def landmark_columns(category_id: int) -> list[str]:
    """``<name>_x, <name>_y, <name>_v`` for each landmark of the category, in storage order."""
    return [f"{name}_{axis}" for name in landmark_names(category_id) for axis in _AXES]


def _float_tail(frame: pd.DataFrame) -> int:
    """How many of the last columns are plain float64."""
    count = 0
    for dtype in reversed(frame.dtypes.tolist()):
        if dtype != np.float64:
            break
        count += 1
    return count


def _csv_lines(frame: pd.DataFrame) -> Iterator[str]:
    """The frame as CSV lines (header first), with its trailing float columns formatted by orjson.

    pandas formats floats one Python call at a time; orjson writes a whole float matrix with the
    same shortest round-tripping digits about ten times faster. Empty cells stand for NaN.
    """
    floats = _float_tail(frame)
    head = frame.iloc[:, : frame.shape[1] - floats]
    yield frame.iloc[:0].to_csv(index=False, lineterminator="\n").rstrip("\n")
    for start in range(0, len(frame), _CSV_CHUNK):
        rows = slice(start, start + _CSV_CHUNK)
        lead = head.iloc[rows].to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]
        matrix = np.ascontiguousarray(frame.iloc[rows, frame.shape[1] - floats :].to_numpy(np.float64))
        tail = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY)[2:-2].replace(b"null", b"").split(b"],[")
        for left, right in zip(lead, tail, strict=True):
            yield f"{left},{right.decode()}" if left else right.decode()


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    text_cells = frame.select_dtypes(exclude="number")
    multiline = any(text_cells[c].astype(str).str.contains("[\r\n]").any() for c in text_cells)
    with atomic_write(path, "w") as handle:
        if multiline or _float_tail(frame) == 0 or frame.shape[1] == _float_tail(frame) or frame.empty:
            frame.to_csv(handle, index=False, lineterminator="\n")  # quoted line breaks: let pandas do it all
            return
        for line in _csv_lines(frame):
            handle.write(line + "\n")


def wide_frame(aset: AnnotationSet) -> pd.DataFrame:
    """The wide table as a DataFrame (one row per garment, one per garment-less image)."""
    rows: list[dict[str, Any]] = []
    blocks: dict[int, tuple[list[int], list[np.ndarray]]] = {}
    attribute_keys = [k for k in ATTRIBUTE_KEYS if any(k in g.attributes for _, g in aset.garments())]
    for image in aset.images:
        head = {"image_id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height}
        if not image.garments:
            rows.append(head)
        for garment in image.garments:
            indices, arrays = blocks.setdefault(garment.category_id, ([], []))
            indices.append(len(rows))
            arrays.append(garment.landmarks)
            x, y, w, h = garment.bbox.tolist()
            rows.append(
                {
                    **head,
                    "garment_id": garment.id,
                    "category_id": garment.category_id,
                    "category_name": category_name(garment.category_id),
                    "score": garment.score,
                    **dict(zip(BOX_COLUMNS, (x, y, w, h), strict=True)),
                    **{k: garment.attributes.get(k) for k in attribute_keys},
                }
            )
    columns = ["image_id", "file_name", "width", "height", "garment_id", "category_id", "category_name"]
    frame = pd.DataFrame(rows, columns=[*columns, *attribute_keys, "score", *BOX_COLUMNS])
    for column in ("garment_id", "category_id", *attribute_keys):
        frame[column] = frame[column].astype("Int64")
    frame[["score", *BOX_COLUMNS]] = frame[["score", *BOX_COLUMNS]].astype(np.float64)
    landmark_blocks = [
        pd.DataFrame(np.stack(arrays).reshape(len(indices), -1), index=indices, columns=landmark_columns(cid))
        for cid, (indices, arrays) in sorted(blocks.items())
    ]
    if not landmark_blocks:
        return frame
    return pd.concat([frame, pd.concat(landmark_blocks, sort=False)], axis=1)


def write_csv(aset: AnnotationSet, path: Path) -> None:
    """Write the wide CSV (one row per garment), atomically."""
    _write_frame(wide_frame(aset), path)


def long_frame(aset: AnnotationSet) -> pd.DataFrame:
    """The long table as a DataFrame (one row per landmark of every garment)."""
    garments = [(image, garment) for image, garment in aset.garments()]
    counts = np.array([len(g.landmarks) for _, g in garments], dtype=np.int64)
    points = np.concatenate([g.landmarks for _, g in garments]) if garments else np.zeros((0, 3))

    def per_garment(values: list[Any], dtype: str | None = None) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), counts)

    frame = pd.DataFrame(
        {
            "image_id": per_garment([im.id for im, _ in garments], "int64"),
            "file_name": per_garment([im.file_name for im, _ in garments], "object"),
            "garment": np.repeat(np.arange(len(garments)), counts),
            "garment_id": pd.array(per_garment([g.id for _, g in garments], "object"), dtype="Int64"),
            "category_id": per_garment([g.category_id for _, g in garments], "int64"),
            "category_name": per_garment([category_name(g.category_id) for _, g in garments], "object"),
            "landmark_index": np.concatenate([np.arange(1, n + 1) for n in counts]) if garments else [],
            "landmark": np.concatenate([landmark_names(g.category_id) for _, g in garments]) if garments else [],
            "score": per_garment([np.nan if g.score is None else g.score for _, g in garments], "float64"),
        }
    )
    frame[["x", "y", "v"]] = points
    return frame


def write_csv_long(aset: AnnotationSet, path: Path) -> None:
    """Write the long CSV (one row per landmark), atomically."""
    _write_frame(long_frame(aset), path)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, keep_default_na=True)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise FormatError(f"{path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise FormatError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if {"landmark", "landmark_index"} <= set(frame.columns):
        raise FormatError(f"{path}: a long CSV (one row per landmark) is not read back; use the wide CSV")
    missing = [c for c in ("file_name", *BOX_COLUMNS) if c not in frame.columns]
    if "category_id" not in frame.columns and "category_name" not in frame.columns:
        missing.append("category_id")
    if missing:
        raise FormatError(f"{path}: not a garmentkp wide CSV (missing columns {', '.join(missing)})")
    return frame


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    """A column as floats (cells that are not numbers become NaN), or None when there is no such column."""
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64) if name in frame else None


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Columns as a float matrix; cells that are not numbers become NaN (and fail validation)."""
    return frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)


def _categories(frame: pd.DataFrame) -> list[Any]:
    """Per row: a category id, None (an image-only row), or the error text for an unknown category."""
    keys = frame["category_id"] if "category_id" in frame else frame["category_name"]
    resolved: dict[Any, Any] = {}
    for key in pd.unique(keys.dropna()):
        try:
            resolved[key] = category_id_of(key)
        except SchemaError as exc:
            resolved[key] = str(exc)
    return [None if pd.isna(key) else resolved[key] for key in keys]


def _landmark_arrays(frame: pd.DataFrame, categories: list[Any]) -> dict[int, Any]:
    """Per row holding a known category: its ``(K, 3)`` landmarks, or the error text when its columns are absent."""
    found: dict[int, Any] = {}
    for category_id in {c for c in categories if isinstance(c, int)}:
        rows = [i for i, c in enumerate(categories) if c == category_id]
        columns = landmark_columns(category_id)
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            message = f"no columns for {category_name(category_id)} landmarks ({absent[0]}, …)"
            found.update(dict.fromkeys(rows, message))
            continue
        values = _matrix(frame.iloc[rows], columns).reshape(len(rows), -1, 3)
        found.update(zip(rows, values, strict=True))
    return found


def read_csv(path: Path, on_error: OnError = raise_on_error) -> AnnotationSet:
    """Read a wide CSV back into an :class:`AnnotationSet` (bad rows reported and skipped)."""
    frame = _read_table(Path(path))
    categories = _categories(frame)
    landmarks = _landmark_arrays(frame, categories)
    boxes = _matrix(frame, list(BOX_COLUMNS))
    scores, garment_ids = _column(frame, "score"), _column(frame, "garment_id")
    image_ids, widths, heights = _column(frame, "image_id"), _column(frame, "width"), _column(frame, "height")
    attributes = {k: _column(frame, k) for k in ATTRIBUTE_KEYS if k in frame.columns}
    images: dict[Any, ImageRecord] = {}
    for row, file_name in enumerate(frame["file_name"].astype(str)):
        has_id = image_ids is not None and not np.isnan(image_ids[row])
        key = int(image_ids[row]) if has_id else file_name
        if key not in images:
            images[key] = ImageRecord(
                id=key if has_id else len(images) + 1,
                file_name=file_name,
                width=0 if widths is None or np.isnan(widths[row]) else int(widths[row]),
                height=0 if heights is None or np.isnan(heights[row]) else int(heights[row]),
            )
        category_id = categories[row]
        try:
            if category_id is None:
                continue
            if isinstance(category_id, str) or isinstance(landmarks[row], str):
                raise FormatError(category_id if isinstance(category_id, str) else landmarks[row])
            garment = Garment(
                category_id,
                boxes[row],
                landmarks[row],
                score=None if scores is None or np.isnan(scores[row]) else float(scores[row]),
                id=None if garment_ids is None or np.isnan(garment_ids[row]) else int(garment_ids[row]),
                attributes={k: int(v[row]) for k, v in attributes.items() if not np.isnan(v[row])},
            )
            validate_garment(garment)
        except FormatError as exc:
            on_error(f"{path}: row {row + 2}: {exc}")
            continue
        images[key].garments.append(garment)
    return AnnotationSet(list(images.values()))
