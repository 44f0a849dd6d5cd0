"""COCO keypoint files: the DeepFashion2 COCO form, generic COCO keypoint files, and COCO result lists.

Reading accepts
- the DeepFashion2 COCO form (882-long keypoint vectors, zeros outside the category's slice),
- generic COCO keypoint files whose vectors hold only their category's landmarks; file
  categories are matched to DeepFashion2 by name (``"short sleeved shirt"`` works), else by id,
- the FLD COCO form (one category with the 8 FLD keypoint names; an annotation's
  ``clothes_type`` key picks upper/lower/full body, full body when absent),
- result lists ``[{image_id, category_id, keypoints and/or bbox, score}]``.

Unknown keys are kept in ``extra`` (image and garment level) and written back; the stray
``images`` list real DeepFashion2 files carry inside an annotation is such a key. ``area``,
``num_keypoints`` and ``iscrowd`` are recomputed on writing and only kept when the file's
value differs from the recomputed one. DeepFashion2's ``pair_id`` is an image fact: it is
kept on the image (and written onto each annotation, as the official converter does).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.errors import FormatError, GarmentError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.fastjson import parse_coco_bytes
from garmentcli.io.jsonio import OnError, dump_json, raise_on_error, read_bytes, write_list_items
from garmentcli.schema.fld import FLD_CATEGORY_BASE, FLD_CATEGORY_IDS, FLD_CATEGORY_NAMES, FLD_LANDMARKS, is_fld
from garmentcli.schema.garments import category_id_of, garment_from_fields, landmarks_from_flat, normalise_name
from garmentcli.schema.layout import DF2, NUM_LANDMARKS
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord, entry_label

_GARMENT_KEYS = frozenset({"id", "image_id", "category_id", "bbox", "keypoints", "score", "segmentation"})
_DERIVED_KEYS = frozenset({"area", "num_keypoints", "iscrowd"})
_IMAGE_KEYS = frozenset({"id", "file_name", "width", "height"})
_SET_KEYS = frozenset({"images", "annotations", "categories"})
_FLD_COCO_CATEGORY = {
    "supercategory": "person",
    "id": 1,
    "name": "fashion",
    "keypoints": [name.replace("_", " ") for name in FLD_LANDMARKS],
    "skeleton": [],
}
"""The single category of the FLD COCO form (as MMPose writes it)."""
_FLD_FILE_CATEGORY = -1
"""Marker in a file's category map: this file category is the FLD COCO category."""


# ----------------------------------------------------------------------------------------- reading


def box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """``[x, y, w, h]`` around the labelled landmarks (as pycocotools does for keypoint-only results)."""
    labelled = landmarks[landmarks[:, 2] > 0, :2]
    if labelled.size == 0:
        raise FormatError("no bbox and no labelled keypoint to derive one from")
    low, high = labelled.min(axis=0), labelled.max(axis=0)
    return np.concatenate([low, high - low])


def garment_from_entry(entry: Any, category_id: int, keypoints: np.ndarray | None = None) -> Garment:
    """A validated :class:`Garment` from one COCO annotation or result entry (category already resolved).

    With ``keypoints`` (the matrix of :func:`parse_coco_bytes`), an integer ``"keypoints"`` value is
    the row of that matrix holding the entry's vector.
    """
    raw = entry.get("keypoints")
    if keypoints is not None and isinstance(raw, int):
        raw = keypoints[raw]
    landmarks = landmarks_from_flat(category_id, raw)
    raw_box = entry.get("bbox")
    try:
        bbox = box_from_landmarks(landmarks) if raw_box is None else np.asarray(raw_box, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"bbox or score is not numeric ({exc})") from None
    if bbox.shape != (4,):
        raise FormatError(f"bbox has {bbox.size} values, expected 4")
    garment = garment_from_fields(entry, category_id, bbox, landmarks, _GARMENT_KEYS)
    _drop_derived(garment)
    if is_fld(category_id):
        garment.extra.pop("clothes_type", None)
    return garment


def _drop_derived(garment: Garment) -> None:
    """Forget ``area``/``num_keypoints``/``iscrowd`` when they equal what the writer recomputes."""
    derived = {"area": garment.area, "num_keypoints": garment.num_labelled, "iscrowd": 0}
    for key in _DERIVED_KEYS & garment.extra.keys():
        value = garment.extra[key]
        if isinstance(value, (int, float)) and abs(value - derived[key]) <= 1e-6 * max(1.0, abs(derived[key])):
            del garment.extra[key]


def _file_category_map(categories: Any) -> dict[Any, int]:
    """File category id -> our category id, by name where the name is known (FLD COCO marked specially)."""
    mapping: dict[Any, int] = {}
    for entry in categories if isinstance(categories, list) else []:
        if not isinstance(entry, dict) or "id" not in entry:
            continue
        names = [normalise_name(str(n)) for n in entry.get("keypoints") or []]
        if tuple(names) == FLD_LANDMARKS:
            mapping[entry["id"]] = _FLD_FILE_CATEGORY
            continue
        name = normalise_name(str(entry.get("name", "")))
        if name in DF2.by_name:
            mapping[entry["id"]] = DF2.by_name[name].id
        elif name in FLD_CATEGORY_NAMES.values():
            mapping[entry["id"]] = category_id_of(name)
    return mapping


def _resolve_category(entry: dict, mapping: dict[Any, int]) -> int:
    file_id = entry.get("category_id")
    if file_id is None:
        raise FormatError("no category_id")
    ours = mapping.get(file_id)
    if ours == _FLD_FILE_CATEGORY:
        clothes_type = entry.get("clothes_type", 3)
        if clothes_type not in FLD_CATEGORY_IDS:
            raise FormatError(f"unknown FLD clothes_type {clothes_type!r} (1 upper, 2 lower, 3 full body)")
        return FLD_CATEGORY_IDS[clothes_type]
    if ours is not None:
        return ours
    try:
        return category_id_of(file_id)
    except GarmentError as exc:
        raise FormatError(f"unknown category_id {file_id!r}") from exc


def _image_from_entry(entry: Any) -> ImageRecord:
    if not isinstance(entry, dict):
        raise FormatError("image entry is not an object")
    try:
        return ImageRecord(
            id=int(entry["id"]),
            file_name=str(entry.get("file_name", "")),
            width=int(entry.get("width") or 0),
            height=int(entry.get("height") or 0),
            extra={k: v for k, v in entry.items() if k not in _IMAGE_KEYS},
        )
    except KeyError:
        raise FormatError("image entry has no id") from None
    except (TypeError, ValueError) as exc:
        raise FormatError(f"image id/width/height not integers ({exc})") from None


def read_coco(path: Path, on_error: OnError = raise_on_error) -> AnnotationSet:
    """Read a COCO keypoint file (DeepFashion2 form, generic, or FLD COCO) or a result list."""
    data, keypoints = load_coco_json(path)
    if isinstance(data, list):
        return results_to_set(data, str(path), on_error, keypoints=keypoints)
    if not isinstance(data, dict) or not _SET_KEYS & data.keys():
        raise FormatError(f"{path}: not a COCO file (no images/annotations/categories)")
    return coco_to_set(data, str(path), on_error, keypoints)


def load_coco_json(path: Path) -> tuple[Any, np.ndarray | None]:
    """Parse a COCO file or result list with its keypoint vectors as one matrix (see :func:`parse_coco_bytes`)."""
    data = read_bytes(path)
    if not data.strip():
        raise FormatError(f"{path}: empty file")
    return parse_coco_bytes(data, str(path))


def coco_to_set(
    data: dict, source: str, on_error: OnError = raise_on_error, keypoints: np.ndarray | None = None
) -> AnnotationSet:
    """Build an :class:`AnnotationSet` from a parsed COCO dict; ``source`` names it in messages.

    ``keypoints``: the keypoint matrix when the vectors were parsed apart (:func:`load_coco_json`).
    """
    images: dict[int, ImageRecord] = {}
    for index, entry in enumerate(data.get("images") or []):
        try:
            image = _image_from_entry(entry)
        except FormatError as exc:
            on_error(f"{source}: image #{index}: {exc}")
            continue
        if image.id in images:
            on_error(f"{source}: image id={image.id}: duplicate image id, skipped")
            continue
        images[image.id] = image
    mapping = _file_category_map(data.get("categories"))
    seen_ids: set[Any] = set()
    annotations = data.get("annotations") or []
    for index, entry in enumerate(annotations):
        label = entry_label(entry, index)
        try:
            if not isinstance(entry, dict):
                raise FormatError("not an object")
            image = images.get(entry.get("image_id"))  # type: ignore[arg-type]
            if image is None:
                raise FormatError(f"image_id {entry.get('image_id')!r} is not in images")
            if entry.get("id") is not None and entry["id"] in seen_ids:
                raise FormatError("duplicate annotation id, skipped")
            garment = garment_from_entry(entry, _resolve_category(entry, mapping), keypoints)
        except FormatError as exc:
            on_error(f"{source}: {label}: {exc}")
            continue
        if garment.id is not None:
            seen_ids.add(garment.id)
        image.garments.append(garment)
    for image in images.values():
        _settle_pair_id(image)
    info = {k: v for k, v in data.items() if k not in _SET_KEYS}
    return AnnotationSet(list(images.values()), info)


def _settle_pair_id(image: ImageRecord) -> None:
    """Keep DeepFashion2's ``pair_id`` on the image: drop it from garments that repeat the image's value."""
    values = {repr(g.extra["pair_id"]) for g in image.garments if "pair_id" in g.extra}
    if "pair_id" not in image.extra and len(values) == 1 and all("pair_id" in g.extra for g in image.garments):
        image.extra["pair_id"] = image.garments[0].extra["pair_id"]
    if "pair_id" in image.extra:
        for garment in image.garments:
            if garment.extra.get("pair_id", image.extra["pair_id"]) == image.extra["pair_id"]:
                garment.extra.pop("pair_id", None)


def results_to_set(
    results: list,
    source: str,
    on_error: OnError = raise_on_error,
    images: AnnotationSet | None = None,
    keypoints: np.ndarray | None = None,
) -> AnnotationSet:
    """Build an :class:`AnnotationSet` from a COCO result list.

    With ``images``, results are attached to copies of those image records (results for other
    images are reported and skipped); without, one record per ``image_id`` is made, named as
    DeepFashion2 names its images (``000001.jpg``) since result lists carry no file names.
    """
    records: dict[int, ImageRecord] = {}
    if images is not None:
        records = {im.id: ImageRecord(im.id, im.file_name, im.width, im.height, [], dict(im.extra)) for im in images}
    for index, entry in enumerate(results):
        try:
            if not isinstance(entry, dict):
                raise FormatError("not an object")
            if "keypoints" not in entry and "bbox" not in entry:
                raise FormatError("neither keypoints nor bbox")
            image_id = entry.get("image_id")
            if not isinstance(image_id, int):
                raise FormatError(f"image_id {image_id!r} is not an integer")
            if image_id not in records:
                if images is not None:
                    raise FormatError(f"image_id {image_id} is not among the images")
                records[image_id] = ImageRecord(image_id, f"{image_id:06d}.jpg")
            garment = garment_from_entry(entry, _resolve_category(entry, {}), keypoints)
        except FormatError as exc:
            on_error(f"{source}: result #{index}: {exc}")
            continue
        records[image_id].garments.append(garment)
    if images is not None:
        return AnnotationSet(list(records.values()), dict(images.info), images.named)
    return AnnotationSet([records[k] for k in sorted(records)], {}, named=False)


# ----------------------------------------------------------------------------------------- writing


def _layout_of(aset: AnnotationSet) -> str:
    """``"fld"`` when every garment is an FLD garment, ``"df2"`` when none is; mixing cannot be written."""
    kinds = {is_fld(g.category_id) for _, g in aset.garments()}
    if kinds == {True, False}:
        raise FormatError("cannot write DeepFashion2 and FLD garments into one COCO file")
    return "fld" if kinds == {True} else "df2"


def coco_categories(layout: str = "df2") -> list[dict]:
    """The category list of the DeepFashion2 COCO form (keypoints ``'1'..'294'``) or of FLD COCO."""
    if layout == "fld":
        return [dict(_FLD_COCO_CATEGORY)]
    keypoints = [str(i) for i in range(1, NUM_LANDMARKS + 1)]
    return [
        {"id": c.id, "name": c.name, "supercategory": "clothes", "keypoints": keypoints, "skeleton": []}
        for c in DF2.categories
    ]


def _garment_ids(aset: AnnotationSet) -> Iterator[int]:
    """One unique annotation id per garment: its own where free, new ones after the largest otherwise."""
    own = [g.id for _, g in aset.garments()]
    next_id = max((i for i in own if isinstance(i, int)), default=0) + 1
    used: set[Any] = set()
    for garment_id in own:
        if garment_id is None or garment_id in used:
            garment_id, next_id = next_id, next_id + 1
        used.add(garment_id)
        yield garment_id


def image_entry(image: ImageRecord) -> dict:
    """The COCO ``images`` entry of a record, its ``extra`` keys included."""
    return {**image.extra, "id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height}


def annotation_entries(aset: AnnotationSet) -> Iterator[dict]:
    """COCO annotation dicts, one at a time (keypoints as numpy arrays; serialise with orjson)."""
    ids = _garment_ids(aset)
    fld = _layout_of(aset) == "fld"
    for image, garment in aset.garments():
        entry: dict[str, Any] = {
            "id": next(ids),
            "image_id": image.id,
            "category_id": 1 if fld else garment.category_id,
            "bbox": garment.bbox.tolist(),
            "area": garment.area,
            "iscrowd": 0,
            "num_keypoints": garment.num_labelled,
            "keypoints": garment.slots().ravel(),
            "segmentation": garment.segmentation or [],
        }
        if fld:
            entry["clothes_type"] = garment.category_id - FLD_CATEGORY_BASE
        if garment.score is not None:
            entry["score"] = garment.score
        if "pair_id" in image.extra:
            entry["pair_id"] = image.extra["pair_id"]
        entry.update(garment.attributes)
        entry.update(garment.extra)
        yield entry


def result_entries(aset: AnnotationSet) -> Iterator[dict]:
    """COCO result dicts (``score`` 1.0 for garments without one, e.g. ground truth), one at a time."""
    for image, garment in aset.garments():
        yield {
            "image_id": image.id,
            "category_id": garment.category_id,
            "bbox": garment.bbox.tolist(),
            "keypoints": garment.slots().ravel(),
            "score": 1.0 if garment.score is None else garment.score,
        }


def write_coco(aset: AnnotationSet, path: Path) -> None:
    """Write the DeepFashion2 COCO form, atomically, one annotation serialised at a time."""
    head = {**aset.info, "categories": coco_categories(_layout_of(aset))}
    with atomic_write(path, "wb") as handle:
        handle.write(dump_json(head)[:-1])
        handle.write(b',"images":')
        write_list_items(handle, (image_entry(image) for image in aset.images))
        handle.write(b',"annotations":')
        write_list_items(handle, annotation_entries(aset))
        handle.write(b"}")


def write_results(aset: AnnotationSet, path: Path) -> None:
    """Write a COCO result list, atomically, one entry serialised at a time."""
    with atomic_write(path, "wb") as handle:
        write_list_items(handle, result_entries(aset))
