"""The DeepFashion2 split layout: ``image/000001.jpg`` beside ``annos/000001.json``.

One annos file per image: image-level keys (``source``, ``pair_id``, and whatever else the
record's ``extra`` holds) and ``item1``, ``item2``, … one per garment with ``category_name``,
``category_id``, ``bounding_box`` ``[x1, y1, x2, y2]``, ``landmarks`` (the category's K×3
values), ``segmentation``, the attributes ``style``/``scale``/``occlusion``/``zoom_in``/
``viewpoint``, ``score`` for predictions, and the garment's ``extra`` keys. The image id is the
number in the file name. Image sizes come from the image headers when the images are there
(0 when an image is missing; its annotations are still read).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from garmentcli.errors import FormatError, InputError, SchemaError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.images import IMAGE_SUFFIXES, image_size
from garmentcli.io.jsonio import OnError, dump_json, load_json, raise_on_error
from garmentcli.schema.garments import category_id_of, category_name, garment_from_fields
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

ANNOS_DIR, IMAGE_DIR = "annos", "image"
_ITEM = re.compile(r"item(\d+)")
_ITEM_KEYS = frozenset({"category_name", "category_id", "bounding_box", "landmarks", "segmentation", "score"})


def _number_in_name(name: str) -> int | None:
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else None


def image_id_from_name(name: str) -> int:
    """DeepFashion2's image id: the number in the file name (``000123.json`` -> 123)."""
    number = _number_in_name(name)
    if number is None:
        raise FormatError(f"{name}: no number in the file name to use as image id")
    return number


def image_ids_from_names(names: Sequence[str]) -> list[int]:
    """Image ids for files that carry none, so results score directly against DeepFashion2 ground truth.

    A name keeps its number (``000264.jpg`` -> 264, ``img_00000128.jpg`` -> 128) unless an earlier
    name already took it; names without a number, and later repeats, get sequential ids after the
    largest number. Deterministic for a given order, so a resumed run assigns the same ids.
    """
    numbers = [_number_in_name(name) for name in names]
    next_id = max((n for n in numbers if n is not None), default=0) + 1
    taken: set[int] = set()
    ids = []
    for number in numbers:
        if number is None or number in taken:
            number, next_id = next_id, next_id + 1
        taken.add(number)
        ids.append(number)
    return ids


def side(low: float, high: float) -> float:
    """``high - low`` as the writer had it: the shortest decimal ``w`` with ``low + w == high`` in floats.

    A box written as corners ``[x, y, x + w, y + h]`` gives back ``w`` only up to the rounding of the
    sum (48.81 becomes 48.809999999999995); the shortest ``w`` that adds up to the written corner is
    the one that was written, so a box survives the round trip exactly (and a resumed ``synth``
    writes the same ``coco.json`` as one that was never interrupted).
    """
    width = high - low
    if not math.isfinite(width):
        return width
    for digits in range(16):
        candidate = round(width, digits)
        if low + candidate == high:
            return candidate
    return width


def _garment_from_item(item: Any) -> Garment:
    if not isinstance(item, dict):
        raise FormatError("not an object")
    key = item.get("category_id", item.get("category_name"))
    if key is None:
        raise FormatError("no category_id or category_name")
    try:
        category_id = category_id_of(key)
        x1, y1, x2, y2 = (float(v) for v in item["bounding_box"])
    except KeyError:
        raise FormatError("no bounding_box") from None
    except (TypeError, ValueError) as exc:
        raise FormatError(f"bounding_box is not 4 numbers ({exc})") from None
    except SchemaError as exc:  # unknown category
        raise FormatError(str(exc)) from None
    box = [x1, y1, side(x1, x2), side(y1, y2)]
    return garment_from_fields(item, category_id, box, item.get("landmarks"), _ITEM_KEYS, id_key=None, allow_294=False)


def read_df2_anno(
    path: Path,
    image_id: int | None = None,
    file_name: str | None = None,
    on_error: OnError = raise_on_error,
) -> ImageRecord:
    """Read one DeepFashion2 annos JSON into an :class:`ImageRecord` (bad items reported and skipped).

    ``image_id`` defaults to the number in the file name, ``file_name`` to ``<stem>.jpg``;
    width and height stay 0 (the split reader fills them from the image).
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict):
        raise FormatError(f"{path}: not a DeepFashion2 annotation (expected an object with item1, item2, …)")
    items = sorted(((int(m.group(1)), k) for k in data if (m := _ITEM.fullmatch(k))), key=lambda pair: pair[0])
    record = ImageRecord(
        id=image_id_from_name(path.name) if image_id is None else image_id,
        file_name=file_name or f"{path.stem}.jpg",
        extra={k: v for k, v in data.items() if not _ITEM.fullmatch(k)},
    )
    for _, key in items:
        try:
            record.garments.append(_garment_from_item(data[key]))
        except FormatError as exc:
            on_error(f"{path}: {key}: {exc}")
    return record


def df2_anno_dict(record: ImageRecord) -> dict:
    """The DeepFashion2 annos document of one image."""
    document: dict[str, Any] = dict(record.extra)
    for number, garment in enumerate(record.garments, start=1):
        x, y, w, h = garment.bbox.tolist()
        item: dict[str, Any] = {
            "category_name": category_name(garment.category_id),
            "category_id": garment.category_id,
            "bounding_box": [x, y, x + w, y + h],
            "landmarks": garment.landmarks.ravel().tolist(),
            "segmentation": garment.segmentation or [],
        }
        if garment.score is not None:
            item["score"] = garment.score
        item.update(garment.attributes)
        item.update(garment.extra)
        document[f"item{number}"] = item
    return document


def write_df2_anno(record: ImageRecord, path: Path) -> None:
    """Write one DeepFashion2 annos JSON, atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(dump_json(df2_anno_dict(record)))


def default_image_folder(annotations: Path) -> Path:
    """Where the images of ``annotations`` most likely are: ``image/`` of a DeepFashion2 split, else the
    annotation folder itself, or the folder holding the annotation file."""
    annotations = Path(annotations)
    if annotations.is_dir():
        return annotations / IMAGE_DIR if (annotations / IMAGE_DIR).is_dir() else annotations
    return annotations.parent


def _image_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def read_df2_split(path: Path, on_error: OnError = raise_on_error) -> AnnotationSet:
    """Read a DeepFashion2 split folder (``annos/`` + ``image/``), or its ``annos/`` folder itself; a bad annos
    file is reported and skipped."""
    path = Path(path)
    if path.name == ANNOS_DIR and not (path / ANNOS_DIR).is_dir():
        path = path.parent
    annos = path / ANNOS_DIR
    if not annos.is_dir():
        raise InputError(f"{path}: not a DeepFashion2 split (no {ANNOS_DIR}/ folder)")
    files = sorted(annos.glob("*.json"))
    if not files:
        raise InputError(f"{annos}: no annotation files")
    images = _image_files(path / IMAGE_DIR)
    records: list[ImageRecord] = []
    seen: set[int] = set()
    for file in files:
        image = images.get(file.stem)
        try:
            record = read_df2_anno(file, file_name=image.name if image else None, on_error=on_error)
            if record.id in seen:
                raise FormatError(f"{file}: image id {record.id} repeats an earlier file's, skipped")
            if image is not None:
                record.width, record.height = image_size(image)
        except InputError as exc:  # malformed file, unreadable image header
            on_error(str(exc))
            continue
        seen.add(record.id)
        records.append(record)
    return AnnotationSet(records)


def write_df2_split(aset: AnnotationSet, path: Path) -> None:
    """Write ``annos/<image stem>.json`` for every image under ``path`` (images themselves are not copied)."""
    annos = Path(path) / ANNOS_DIR
    for record in aset.images:
        write_df2_anno(record, annos / f"{Path(record.file_name).stem or f'{record.id:06d}'}.json")
