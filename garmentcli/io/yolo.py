"""YOLO-pose (Ultralytics) datasets: export for training, and import back.

A dataset folder holds ``images/`` (the images, copied or linked, at their relative paths),
``labels/`` (one ``.txt`` per image, one line per garment:
``class cx cy w h  x1 y1 v1 ... xS yS vS``, every coordinate normalised to 0–1, visibility
flags 0/1/2 from :mod:`garmentcli.io.visibility` — never confidences) and ``data.yaml``.
Predictions are written as Ultralytics writes its own (``save_txt`` with ``save_conf``):
``class cx cy w h  x1 y1 c1 ... xS yS cS  score``, confidences where flags would be and the
garment's score last; the import reads such rows back as predictions.

One keypoint shape is shared by all classes, so the category landmark sets need a common
layout (:class:`YoloLayout`):

* ``padded`` — the DeepFashion2 294-vector: a garment fills its category's slice, the rest is
  ``0 0 0``. ``flip_idx`` is ``DF2.flip_index``. Faithful, but 294 keypoints per object.
* ``grouped`` — the 77 semantic groups (landmarks with the same name across categories,
  ``DF2.group_of``): a garment fills the groups of its landmarks. ``flip_idx`` maps a group
  to its mirrored name's group. Compact, and a shared slot means the same garment point.
* ``fld`` — chosen automatically for FLD garments (categories 101–103): the 8 FLD slots.

``data.yaml`` carries a ``garmentkp`` section (layout and keypoint names) so the import knows
which layout it reads; without it the layout is recognised from ``kpt_shape``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TextIO

import numpy as np
import yaml

from garmentcli.errors import FormatError, ImageReadError, InputError, SchemaError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.df2 import image_ids_from_names
from garmentcli.io.images import IMAGE_SUFFIXES, image_size
from garmentcli.io.jsonio import OnError, raise_on_error
from garmentcli.io.visibility import UNLABELLED, VISIBLE, canonical_flags, from_codes, to_codes
from garmentcli.schema.fld import FLD_CATEGORY_IDS, FLD_LANDMARKS, is_fld
from garmentcli.schema.garments import category_id_of, category_name, validate_garment
from garmentcli.schema.layout import DF2, mirror_name
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord, value_problems

LAYOUTS = ("padded", "grouped")
"""The layouts a user can ask for (``fld`` is picked automatically for FLD garments)."""

IMAGE_MODES = ("copy", "symlink", "hardlink", "none")
"""How images reach ``images/``: copied, linked, or not at all (``none``: labels and data.yaml only)."""

DIGITS = 6
"""Decimals written for normalised coordinates (1e-6 of the image side)."""


def _mirror(name: str) -> str:
    """Flip partner of a slot name: DeepFashion2 ``_l``/``_r`` suffixes, FLD ``left_``/``right_`` prefixes."""
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    return mirror_name(name)


@dataclass(frozen=True)
class YoloLayout:
    """A keypoint shape shared by all classes, and where each category's landmarks go in it."""

    name: str
    keypoints: tuple[str, ...]
    """Slot names, in label order."""
    classes: tuple[int, ...]
    """Category id of each class index."""
    flip_idx: tuple[int, ...]
    """Slot each slot becomes under a horizontal flip (a permutation and an involution)."""
    category_slots: dict[int, np.ndarray]
    """Category id -> the slot of each of its landmarks, in the category's landmark order."""

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def class_of(self, category_id: int) -> int:
        if category_id not in self.classes:
            raise FormatError(f"category {category_name(category_id)} has no class in the {self.name} YOLO layout")
        return self.classes.index(category_id)


def _flip_by_name(names: tuple[str, ...]) -> tuple[int, ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple(index[_mirror(n)] for n in names)


@cache
def yolo_layout(name: str) -> YoloLayout:
    """The ``padded``, ``grouped`` or ``fld`` layout."""
    if name == "padded":
        keypoints = tuple(f"{c.name}/{n}" for c in DF2.categories for n in c.landmarks)
        slots = {c.id: np.arange(c.slice.start, c.slice.stop) for c in DF2.categories}
        return YoloLayout(name, keypoints, tuple(DF2.ids), tuple(int(i) for i in DF2.flip_index), slots)
    if name == "grouped":
        slots = {c.id: DF2.group_of[c.slice] for c in DF2.categories}
        groups = DF2.semantic_groups
        return YoloLayout(name, groups, tuple(DF2.ids), _flip_by_name(groups), slots)
    if name == "fld":
        slots = {cid: np.arange(len(FLD_LANDMARKS)) for cid in FLD_CATEGORY_IDS.values()}
        return YoloLayout(name, FLD_LANDMARKS, tuple(FLD_CATEGORY_IDS.values()), _flip_by_name(FLD_LANDMARKS), slots)
    raise InputError(f"unknown YOLO layout {name!r} (choose from {', '.join((*LAYOUTS, 'fld'))})")


def _layout_for(aset: AnnotationSet, requested: str) -> YoloLayout:
    kinds = {is_fld(g.category_id) for _, g in aset.garments()}
    if kinds == {True, False}:
        raise FormatError("a YOLO dataset has one keypoint shape: FLD and DeepFashion2 garments cannot be mixed")
    return yolo_layout("fld" if kinds == {True} else requested)


def _relative(file_name: str) -> Path:
    rel = Path(file_name)
    if rel.is_absolute() or ".." in rel.parts or not rel.name:
        raise FormatError(f"{file_name}: image file_name must be a relative path inside the image root")
    return rel


def _place_image(source: Path, target: Path, mode: str) -> None:
    """Copy or link ``source`` to ``target`` (replacing what is there); copies land atomically."""
    if not source.is_file():
        raise InputError(f"{source}: image not found (check the image root)")
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "copy":
        with atomic_write(target, "wb") as handle, source.open("rb") as src:
            shutil.copyfileobj(src, handle)
        return
    target.unlink(missing_ok=True)
    if mode == "symlink":
        target.symlink_to(source.resolve())
    else:
        os.link(source, target)


def _image_wh(record: ImageRecord, image_path: Path | None) -> tuple[int, int]:
    if record.width > 0 and record.height > 0:
        return record.width, record.height
    if image_path is not None and image_path.is_file():
        return image_size(image_path)
    raise FormatError(f"{record.file_name}: image size unknown (no width/height and no image to read it from)")


def label_rows(record: ImageRecord, layout: YoloLayout, width: int, height: int, scores: bool = False) -> np.ndarray:
    """``(G, 5 + 3S)`` label rows of an image's garments: class, normalised box, normalised slots + flags.

    With ``scores`` (predictions) the rows are Ultralytics' own prediction rows (``save_txt`` with
    ``save_conf``), ``(G, 5 + 3S + 1)``: each slot's third value is the landmark's confidence and the
    garment's score comes last. Boxes are clipped to the image and points to 0–1, as Ultralytics
    refuses labels outside it.
    """
    scale = np.array([width, height], dtype=np.float64)
    rows = np.zeros((len(record.garments), 5 + 3 * layout.num_keypoints + int(scores)))
    for row, garment in zip(rows, record.garments, strict=True):
        top_left = np.clip(garment.bbox[:2], 0, scale)
        bottom_right = np.clip(garment.bbox[:2] + garment.bbox[2:], 0, scale)
        row[0] = layout.class_of(garment.category_id)
        row[1:3] = (top_left + bottom_right) / 2 / scale
        row[3:5] = (bottom_right - top_left) / scale
        flags = canonical_flags(garment)
        labelled = flags != UNLABELLED
        slots = row[5 : 5 + 3 * layout.num_keypoints].reshape(layout.num_keypoints, 3)
        target = layout.category_slots[garment.category_id]
        slots[target[labelled], :2] = np.clip(garment.landmarks[labelled, :2] / scale, 0.0, 1.0)
        if scores:
            slots[target, 2] = np.where(labelled, np.clip(garment.landmarks[:, 2], 0.0, 1.0), 0.0)
            row[-1] = garment.score if garment.score is not None else 1.0
        else:
            slots[target, 2] = to_codes(flags, "yolo")
    return rows


def _write_rows(handle: TextIO, rows: np.ndarray, scores: bool = False) -> None:
    if len(rows):
        point = [f"%.{DIGITS}f", f"%.{DIGITS}f", f"%.{DIGITS}f" if scores else "%d"]
        tail = [f"%.{DIGITS}f"] if scores else []
        np.savetxt(handle, rows, fmt=["%d"] + [f"%.{DIGITS}f"] * 4 + point * ((rows.shape[1] - 5) // 3) + tail)


def data_yaml(layout: YoloLayout, root: Path, scores: bool = False) -> dict:
    """The Ultralytics dataset description (with a ``garmentkp`` section for the import; ``scores``: the
    labels are prediction rows, confidences and scores)."""
    section: dict = {"layout": layout.name, "keypoints": list(layout.keypoints)}
    if scores:
        section["scores"] = True
    return {
        "path": str(root.resolve()),
        "train": "images",
        "val": "images",
        "kpt_shape": [layout.num_keypoints, 3],
        "flip_idx": list(layout.flip_idx),
        "names": {i: category_name(cid) for i, cid in enumerate(layout.classes)},
        "garmentkp": section,
    }


def write_yolo(
    aset: AnnotationSet,
    path: Path,
    *,
    layout: str = "padded",
    image_root: Path | None = None,
    image_mode: str = "copy",
    scores: bool | None = None,
) -> None:
    """Write ``aset`` as a YOLO-pose dataset folder at ``path``.

    ``image_root`` is the folder the records' ``file_name`` s are relative to; with
    ``image_mode`` ``none`` (or no root) no image is placed and sizes must be on the records.
    ``scores`` (default: whether the set is a prediction) writes Ultralytics' prediction rows,
    confidences and a trailing score (:func:`label_rows`), so a prediction file comes back whole.
    ``data.yaml`` is written last, so a folder without it is an interrupted export.
    """
    scores = aset.is_prediction if scores is None else scores
    if image_mode not in IMAGE_MODES:
        raise InputError(f"unknown image mode {image_mode!r} (choose from {', '.join(IMAGE_MODES)})")
    chosen = _layout_for(aset, layout)
    root = Path(path)
    place = image_root is not None and image_mode != "none"
    for record in aset.images:
        rel = _relative(record.file_name)
        source = Path(image_root) / rel if image_root is not None else None
        width, height = _image_wh(record, source)
        if place:
            _place_image(source, root / "images" / rel, image_mode)
        with atomic_write((root / "labels" / rel).with_suffix(".txt")) as handle:
            _write_rows(handle, label_rows(record, chosen, width, height, scores), scores)
    with atomic_write(root / "data.yaml") as handle:
        yaml.safe_dump(data_yaml(chosen, root, scores), handle, sort_keys=False, default_flow_style=None, width=1 << 16)


def _read_data_yaml(root: Path) -> tuple[dict, YoloLayout]:
    yaml_path = root / "data.yaml"
    try:
        data = yaml.safe_load(yaml_path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{yaml_path}: no such file (a YOLO dataset folder needs data.yaml)") from None
    except yaml.YAMLError as exc:
        raise FormatError(f"{yaml_path}: malformed YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "kpt_shape" not in data or "names" not in data:
        raise FormatError(f"{yaml_path}: not a YOLO-pose data.yaml (needs kpt_shape and names)")
    num_keypoints = int(data["kpt_shape"][0])
    declared = (data.get("garmentkp") or {}).get("layout")
    guessed = {294: "padded", len(DF2.semantic_groups): "grouped", len(FLD_LANDMARKS): "fld"}.get(num_keypoints)
    if not (declared or guessed):
        raise FormatError(
            f"{yaml_path}: kpt_shape {num_keypoints} is no garmentkp layout (294 padded, 77 grouped, 8 FLD)"
        )
    layout = yolo_layout(declared or guessed)
    if layout.num_keypoints != num_keypoints:
        raise FormatError(f"{yaml_path}: kpt_shape {num_keypoints} does not fit the {layout.name} layout")
    return data, layout


def _class_categories(data: dict, layout: YoloLayout, source: str) -> dict[int, int]:
    """Class index -> category id, from ``names`` (a list or a dict) matched by category name."""
    names = data["names"]
    items = names.items() if isinstance(names, dict) else enumerate(names)
    try:
        mapping = {int(k): category_id_of(str(v)) for k, v in items}
    except (SchemaError, ValueError) as exc:
        raise FormatError(f"{source}: names: {exc}") from None
    foreign = sorted({category_name(c) for c in mapping.values()} - {category_name(c) for c in layout.classes})
    if foreign:
        raise FormatError(f"{source}: classes {foreign} do not belong to the {layout.name} layout")
    return mapping


def _parse_label_file(path: Path, dims: int, num_keypoints: int) -> list[np.ndarray]:
    """The rows of a label file: ``5 + dims * S`` values each, or one more for a prediction row
    (``dims`` 3: confidences and a trailing score, as Ultralytics saves predictions)."""
    width = 5 + dims * num_keypoints
    lines = [line.split() for line in path.read_text("utf-8").splitlines() if line.strip()]
    allowed = (width, width + 1) if dims == 3 else (width,)
    for number, line in enumerate(lines, start=1):
        if len(line) not in allowed:
            more = " (or one more: a prediction's score)" if dims == 3 else ""
            raise FormatError(f"{path}: line {number}: {len(line)} values, expected {width}{more}")
    try:
        return [np.array(line, dtype=np.float64) for line in lines]
    except ValueError as exc:
        raise FormatError(f"{path}: not numbers ({exc})") from None


def garment_from_row(row: np.ndarray, category_id: int, layout: YoloLayout, dims: int, wh: tuple[int, int]) -> Garment:
    """One label row (already split into numbers) -> a :class:`Garment` in pixels.

    A prediction row (one value more: confidences, then the garment's score) gives a prediction.
    """
    scale = np.array(wh, dtype=np.float64)
    cx, cy, w, h = row[1:5]
    predicted = len(row) == 5 + dims * layout.num_keypoints + 1
    slots = row[5 : 5 + dims * layout.num_keypoints].reshape(layout.num_keypoints, dims)
    bbox = [(cx - w / 2) * scale[0], (cy - h / 2) * scale[1], w * scale[0], h * scale[1]]
    problem = value_problems(np.array([bbox]), np.column_stack([slots, np.zeros((len(slots), 3 - dims))])[None])[0]
    if problem:  # the whole line passes the gate, the slots of other categories too
        raise FormatError(problem)
    if predicted:
        flags = np.where(slots[:, 2] > 0, VISIBLE, UNLABELLED)
    elif dims == 3:
        flags = from_codes(slots[:, 2], "yolo")
    else:
        flags = np.where(np.any(slots[:, :2] != 0, axis=1), VISIBLE, UNLABELLED)
    mine = layout.category_slots[category_id]
    others = np.setdiff1d(np.flatnonzero(flags), mine)
    if others.size:
        raise FormatError(f"keypoint {layout.keypoints[others[0]]!r} is not a landmark of {category_name(category_id)}")
    landmarks = np.zeros((mine.size, 3))
    labelled = flags[mine] != UNLABELLED
    landmarks[labelled, :2] = slots[mine[labelled], :2] * scale
    landmarks[:, 2] = slots[mine, 2] if predicted else flags[mine]
    return Garment(category_id, bbox, landmarks, score=float(row[-1]) if predicted else None)


def read_yolo(path: Path, on_error: OnError | None = None) -> AnnotationSet:
    """Read a YOLO-pose dataset folder (or its ``data.yaml``): every image under ``images/``
    with its ``labels/`` file (an image without one has no garments)."""
    on_error = on_error or raise_on_error
    root = Path(path)
    root = root.parent if root.suffix in {".yaml", ".yml"} else root
    data, layout = _read_data_yaml(root)
    classes = _class_categories(data, layout, str(root / "data.yaml"))
    dims = int(data["kpt_shape"][1]) if len(data["kpt_shape"]) > 1 else 3
    image_dir = root / "images"
    files = sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if image_dir.is_dir() else []
    names = [p.relative_to(image_dir).as_posix() for p in files]
    images = []
    for image_id, name, image_path in zip(image_ids_from_names(names), names, files, strict=True):
        try:
            width, height = image_size(image_path)
        except ImageReadError as exc:
            on_error(str(exc))
            continue
        record = ImageRecord(image_id, name, width, height)
        label_path = (root / "labels" / name).with_suffix(".txt")
        try:
            rows = _parse_label_file(label_path, dims, layout.num_keypoints) if label_path.is_file() else []
        except FormatError as exc:
            on_error(f"{exc}; image skipped")
            continue
        for line, row in enumerate(rows, start=1):
            try:
                category_id = classes.get(int(row[0]))
                if category_id is None:
                    raise FormatError(f"class {int(row[0])} is not in data.yaml names")
                garment = garment_from_row(row, category_id, layout, dims, (width, height))
                validate_garment(garment)
                record.garments.append(garment)
            except FormatError as exc:
                on_error(f"{label_path}: line {line}: {exc}")
        images.append(record)
    return AnnotationSet(images)
