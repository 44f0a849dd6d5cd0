"""Garment instances as parallel numpy arrays: the fast path from COCO JSON to the metrics.

:class:`Instances` holds one row per garment (ground truth or prediction) in file order. It is
filled either straight from a COCO ground-truth file / COCO result list (:func:`load_instances`,
no per-garment Python objects, what ``garmentkp eval`` uses on big JSON files) or from an
:class:`~garmentcli.schema.records.AnnotationSet` (:func:`instances_from_set`, any format the
readers know).

Derived fields follow pycocotools to the letter, because the official DeepFashion2 numbers are
pycocotools' numbers: a ground-truth ``area``, ``iscrowd`` and ``num_keypoints`` are taken from the
file when present; for a result list the first entry decides, as in ``COCO.loadRes``: when it has a
box, every result's area is its box's ``w*h``; otherwise each result's box and area are the extent
of its whole keypoint vector (zeros outside the category's slice included).

Landmarks are ``(N, W, 3)`` with ``W`` = 294 (the DeepFashion2 vector) or 8 (the FLD slots, for
the FLD pseudo-categories 101–103).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.errors import FormatError, InputError
from garmentcli.io.fastjson import parse_coco_bytes
from garmentcli.io.jsonio import OnError, raise_on_error, read_bytes
from garmentcli.schema.fld import FLD_CATEGORY_IDS, FLD_LANDMARKS
from garmentcli.schema.layout import DF2, NUM_LANDMARKS
from garmentcli.schema.records import ATTRIBUTE_KEYS, AnnotationSet, entry_label, value_problems

FLD_WIDTH = len(FLD_LANDMARKS)
ATTRIBUTES = tuple(key for key in ATTRIBUTE_KEYS if key != "style")
"""The DeepFashion2 attributes evaluation breaks results down by (``style`` is a pairing id, not an attribute)."""


@dataclass
class Instances:
    """Garments of one set (ground truth or predictions) as arrays, one row per garment, file order."""

    image_ids: np.ndarray
    """Sorted ids of every image of the set (ground truth: images without garments too)."""
    category_ids: np.ndarray
    """Sorted ids of the categories the set declares (COCO ``categories``)."""
    image_id: np.ndarray
    category_id: np.ndarray
    bbox: np.ndarray
    """``(N, 4)`` ``x, y, w, h``."""
    area: np.ndarray
    keypoints: np.ndarray | None
    """``(N, W, 3)`` ``x, y, v``, or None when the set carries no landmarks (box-only results)."""
    score: np.ndarray
    """Detection scores; NaN for ground truth."""
    iscrowd: np.ndarray
    num_keypoints: np.ndarray
    ann_id: np.ndarray
    """Annotation ids: as in the file, else the 1-based position (as pycocotools numbers results)."""
    has_ids: bool = False
    """Whether the source gave every garment an id (top-down predictions carry their ground truth's)."""
    image_size: dict[int, tuple[int, int]] = field(default_factory=dict)
    """image id -> (width, height), where the source says."""
    image_names: dict[int, str] = field(default_factory=dict)
    """image id -> file name, where the source gives names (a bare result list gives none)."""
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    """DeepFashion2 attribute -> ``(N,)`` int values, 0 where a garment lacks it."""

    def __len__(self) -> int:
        return int(self.image_id.shape[0])


def keypoint_width(category_ids: np.ndarray) -> int:
    """294 for DeepFashion2 categories, 8 for FLD ones; :class:`FormatError` when they are mixed."""
    fld = np.isin(category_ids, list(FLD_CATEGORY_IDS.values()))
    if fld.any() and not fld.all():
        raise FormatError("DeepFashion2 and FLD garments are mixed in one set")
    return FLD_WIDTH if fld.any() else NUM_LANDMARKS


def instances_from_set(aset: AnnotationSet) -> Instances:
    """Columns of an :class:`AnnotationSet` (COCO fields kept in ``Garment.extra`` win over derived ones)."""
    rows = list(aset.garments())
    category_id = np.array([g.category_id for _, g in rows], dtype=np.int64)
    width = keypoint_width(category_id)
    keypoints = np.zeros((len(rows), width, 3))
    for row, (_, garment) in enumerate(rows):
        keypoints[row] = garment.slots()
    bbox = np.array([g.bbox for _, g in rows], dtype=np.float64).reshape(-1, 4)
    scores = [np.nan if g.score is None else g.score for _, g in rows]
    known = sorted({*(DF2.ids if width == NUM_LANDMARKS else FLD_CATEGORY_IDS.values()), *category_id.tolist()})
    return Instances(
        image_ids=np.unique(np.array([image.id for image in aset.images], dtype=np.int64)),
        category_ids=np.array(known, dtype=np.int64),
        image_id=np.array([image.id for image, _ in rows], dtype=np.int64),
        category_id=category_id,
        bbox=bbox,
        area=np.array([g.extra.get("area", g.area) for _, g in rows], dtype=np.float64),
        keypoints=keypoints,
        score=np.array(scores, dtype=np.float64),
        iscrowd=np.array([bool(g.extra.get("iscrowd", 0)) for _, g in rows], dtype=bool),
        num_keypoints=np.array([g.extra.get("num_keypoints", g.num_labelled) for _, g in rows], dtype=np.int64),
        ann_id=np.array([g.id if g.id is not None else row + 1 for row, (_, g) in enumerate(rows)], dtype=np.int64),
        has_ids=all(g.id is not None for _, g in rows),
        image_size={image.id: (image.width, image.height) for image in aset.images if image.width and image.height},
        image_names={image.id: image.file_name for image in aset.images if image.file_name} if aset.named else {},
        attributes={
            key: np.array([g.attributes.get(key, 0) for _, g in rows], dtype=np.int64)
            for key in ATTRIBUTES
            if any(key in g.attributes for _, g in rows)
        },
    )


def _number_rows(
    entries: Sequence[dict],
    key: str,
    length: int,
    problems: dict[int, str],
    parsed: np.ndarray | None = None,
) -> np.ndarray:
    """``entries[i][key]`` as a float ``(N, length)`` array; unusable values give NaN rows and a ``problems`` entry.

    A value may be an integer: the row of ``parsed`` that :func:`parse_coco_bytes` moved the array to.
    Rows are numbered in document order, so an integer that does not continue the increasing sequence
    is a malformed value of the file itself, not a row.
    """
    values = [entry.get(key) for entry in entries]
    if parsed is not None and parsed.shape[1] == length:
        index = np.array([_moved_row(v) for v in values], dtype=np.int64)
        if np.array_equal(index, np.arange(len(parsed))):
            return parsed
        if np.all(index >= 0) and np.all(np.diff(index) > 0) and index.max(initial=-1) < len(parsed):
            return parsed[index]
    try:
        if all(isinstance(v, list) and len(v) == length for v in values):
            return np.array(values, dtype=np.float64).reshape(len(values), length)
    except (TypeError, ValueError):
        pass
    out = np.full((len(values), length), np.nan)
    last_moved = -1
    for row, value in enumerate(values):
        moved = _moved_row(value) if parsed is not None and parsed.shape[1] == length else -1
        if last_moved < moved < len(parsed):
            out[row], last_moved = parsed[moved], moved
            continue
        try:
            out[row] = np.asarray(value, dtype=np.float64).reshape(length)
        except (TypeError, ValueError):
            if isinstance(value, list) and len(value) == length:
                problems.setdefault(row, f"'{key}' holds something that is not a number")
            else:
                size = len(value) if isinstance(value, list) else "no list of"
                problems.setdefault(row, f"'{key}' has {size} values, expected {length}")
    return out


def _moved_row(value: Any) -> int:
    """The matrix row an integer left by :func:`parse_coco_bytes` points to, or -1 for any other value."""
    return value if type(value) is int and value >= 0 else -1


def _int_column(entries: Sequence[dict], key: str, default: int | None) -> np.ndarray:
    values = [entry.get(key, default) for entry in entries]
    return np.array([v if isinstance(v, int) and not isinstance(v, bool) else -1 for v in values], dtype=np.int64)


def _columns(
    entries: Sequence[dict], source: str, on_error: OnError, results: bool, parsed: np.ndarray | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Arrays of COCO annotation entries, and the mask of entries that are well formed.

    Each malformed entry is reported once through ``on_error``, naming the file, the entry and the first problem.
    """
    image_id = _int_column(entries, "image_id", None)
    category_id = _int_column(entries, "category_id", None)
    good = (image_id >= 0) & (category_id >= 0)
    problems = {int(row): "missing or non-integer image_id/category_id" for row in np.flatnonzero(~good)}
    has_keypoints = any("keypoints" in entry for entry in entries[:1]) or (
        not results and any("keypoints" in entry for entry in entries)
    )
    columns: dict[str, np.ndarray] = {"image_id": image_id, "category_id": category_id}
    if has_keypoints:
        width = keypoint_width(category_id[good])
        flat = _number_rows(entries, "keypoints", 3 * width, problems, parsed)
        columns["keypoints"] = flat.reshape(len(entries), width, 3)
    box_mode = results and bool(entries) and bool(entries[0].get("bbox"))
    if box_mode or not results or not entries:
        bbox = _number_rows(entries, "bbox", 4, problems)
    else:
        if not has_keypoints:
            raise FormatError(f"{source}: results carry neither 'bbox' nor 'keypoints'")
        x, y = columns["keypoints"][..., 0], columns["keypoints"][..., 1]
        with np.errstate(invalid="ignore"):
            x0, y0 = x.min(axis=1), y.min(axis=1)
            bbox = np.stack([x0, y0, x.max(axis=1) - x0, y.max(axis=1) - y0], axis=1)
    columns["bbox"] = bbox
    if results:
        score = np.array([e.get("score") if isinstance(e.get("score"), (int, float)) else np.nan for e in entries])
        columns["score"] = score.astype(np.float64)
        for row in np.flatnonzero(~np.isfinite(columns["score"])):
            problems.setdefault(int(row), "'score' is missing or not a finite number")
        columns["area"] = bbox[:, 2] * bbox[:, 3]
        columns["iscrowd"] = np.zeros(len(entries), dtype=bool)
        ids = _int_column(entries, "id", None)
        positions = np.arange(1, len(entries) + 1, dtype=np.int64)
        columns["ann_id"] = ids if len(ids) and np.all(ids >= 0) else positions
    else:
        given_area = [e.get("area") for e in entries]
        box_area = (bbox[:, 2] * bbox[:, 3]).tolist()
        columns["area"] = np.array(
            [a if isinstance(a, (int, float)) else b for a, b in zip(given_area, box_area, strict=True)],
            dtype=np.float64,
        )
        columns["iscrowd"] = np.array([bool(e.get("iscrowd", 0)) for e in entries], dtype=bool)
        columns["ann_id"] = _int_column(entries, "id", None)
        score = [e.get("score") for e in entries]
        columns["score"] = np.array([s if isinstance(s, (int, float)) else np.nan for s in score], dtype=np.float64)
    labelled = (columns["keypoints"][..., 2] > 0).sum(axis=1) if has_keypoints else np.zeros(len(entries), np.int64)
    given = [e.get("num_keypoints") for e in entries]
    columns["num_keypoints"] = np.array(
        [n if isinstance(n, int) else int(c) for n, c in zip(given, labelled.tolist(), strict=True)], dtype=np.int64
    )
    for key in ATTRIBUTES:
        if any(key in e for e in entries):
            columns[key] = _int_column(entries, key, 0).clip(min=0)
    gate = value_problems(bbox, columns.get("keypoints"), columns["score"], results)  # the readers' gate
    for row, problem in enumerate(gate):
        if problem:
            problems.setdefault(row, problem)
    good &= np.array([not problem for problem in gate], dtype=bool)
    for row in np.flatnonzero(~good).tolist():
        label = f"result #{row}" if results else entry_label(entries[row], row)
        on_error(f"{source}: {label}: {problems[row]}")
    return columns, good


def _instances(
    columns: dict[str, np.ndarray],
    good: np.ndarray,
    image_ids: np.ndarray,
    category_ids: np.ndarray,
    image_size: dict[int, tuple[int, int]],
    has_ids: bool,
    image_names: dict[int, str] | None = None,
) -> Instances:
    keep = slice(None) if good.all() else np.flatnonzero(good)
    return Instances(
        image_ids=np.unique(image_ids),
        category_ids=np.unique(category_ids),
        image_id=columns["image_id"][keep],
        category_id=columns["category_id"][keep],
        bbox=columns["bbox"][keep],
        area=columns["area"][keep],
        keypoints=columns["keypoints"][keep] if "keypoints" in columns else None,
        score=columns["score"][keep],
        iscrowd=columns["iscrowd"][keep],
        num_keypoints=columns["num_keypoints"][keep],
        ann_id=columns["ann_id"][keep],
        has_ids=has_ids,
        image_size=image_size,
        image_names=image_names or {},
        attributes={key: columns[key][keep] for key in ATTRIBUTES if key in columns},
    )


def instances_from_coco(
    document: Any, source: str, on_error: OnError = raise_on_error, keypoints: np.ndarray | None = None
) -> Instances:
    """Instances of a parsed COCO document: a dict with ``annotations`` or a result list.

    ``keypoints``: the arrays :func:`parse_coco_bytes` took out of the document, which refers to them by row.
    """
    if isinstance(document, list):
        entries = [e for e in document if isinstance(e, dict)]
        if len(entries) != len(document):
            on_error(f"{source}: {len(document) - len(entries)} result entries are not JSON objects")
        columns, good = _columns(entries, source, on_error, results=True, parsed=keypoints)
        has_ids = bool(entries) and all(type(e.get("id")) is int for e in entries)
        return _instances(columns, good, columns["image_id"][good], columns["category_id"][good], {}, has_ids)
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        raise FormatError(f"{source}: neither a COCO file (no 'annotations' list) nor a COCO result list")
    images = [i for i in document.get("images", []) if isinstance(i, dict) and isinstance(i.get("id"), int)]
    entries = [e for e in document["annotations"] if isinstance(e, dict)]
    columns, good = _columns(entries, source, on_error, results=False, parsed=keypoints)
    categories = [c["id"] for c in document.get("categories", []) if isinstance(c, dict) and "id" in c]
    image_ids = np.array([i["id"] for i in images] or columns["image_id"][good].tolist(), dtype=np.int64)
    sizes = {i["id"]: (int(i.get("width", 0)), int(i.get("height", 0))) for i in images if i.get("width")}
    names = {i["id"]: i["file_name"] for i in images if isinstance(i.get("file_name"), str) and i["file_name"]}
    category_ids = np.array(categories or columns["category_id"][good].tolist(), dtype=np.int64)
    return _instances(columns, good, image_ids, category_ids, sizes, has_ids=True, image_names=names)


def _is_df2_form(document: Any, keypoints: np.ndarray | None) -> bool:
    """Whether a parsed COCO document has DeepFashion2 294-landmark vectors (or no landmarks at all)."""
    if keypoints is not None:
        return keypoints.shape[1] == 3 * NUM_LANDMARKS
    entries = document if isinstance(document, list) else document.get("annotations", [])
    lengths = {len(e["keypoints"]) for e in entries if isinstance(e, dict) and isinstance(e.get("keypoints"), list)}
    return lengths <= {3 * NUM_LANDMARKS}


def load_instances(path: str | Path, on_error: OnError = raise_on_error, fmt: str | None = None) -> Instances:
    """Instances of any file ``read_annotations`` reads; DeepFashion2 COCO files and result lists take the fast path.

    ``fmt`` names the format (guessed from the path when None), as for ``read_annotations``.
    """
    from garmentcli.io.formats import guess_read_format, read_annotations

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    fmt = fmt or guess_read_format(path)
    if fmt in ("coco", "results") and path.is_file():
        data = read_bytes(path)
        if not data.strip():
            raise FormatError(f"{path}: empty file")
        document, keypoints = parse_coco_bytes(data, str(path))
        del data
        if isinstance(document, (dict, list)) and _is_df2_form(document, keypoints):
            return instances_from_coco(document, str(path), on_error, keypoints)
    return instances_from_set(read_annotations(path, fmt, on_error=on_error))
