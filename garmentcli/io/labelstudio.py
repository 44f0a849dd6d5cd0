"""Label Studio: tasks with pre-annotations to import, the matching labeling config, and exports read back.

Writing produces a tasks JSON (a list, one task per image) and, beside it, the labeling
config (``<name>.config.xml``) to paste into the project's *Labeling Interface*. Each task:

* ``data``: ``image`` (``image_prefix`` + the image's ``file_name``; e.g. ``/data/local-files/?d=``
  for local storage), and ``file_name``, ``image_id``, ``width``, ``height`` so the import back
  keeps them;
* ``predictions``: one entry with ``model_version``, ``score`` (mean garment score of a
  prediction set) and ``result``: per garment a ``rectanglelabels`` region (control
  ``garment``) and one ``keypointlabels`` region per labelled landmark (control ``landmark``,
  label = the landmark's semantic name) whose ``parentID`` is the garment's region id. An
  occluded landmark also gets a per-region ``choices`` result (control ``visibility``,
  ``occluded``); a landmark without one is visible; unlabelled landmarks get no region
  (:mod:`garmentcli.io.visibility`). Coordinates are percent of the image size (0–100).

Reading takes Label Studio's JSON export: per task the latest submitted annotation, or the
latest prediction when the task has none. A keypoint without a (known) ``parentID`` — one a
reviewer added — joins the smallest garment whose box contains it and whose category has
that landmark. A submitted annotation comes back as ground truth (visibility flags, no scores);
a prediction comes back as a prediction: each rectangle's ``score`` is the garment's score and
each keypoint's ``score`` its landmark's confidence, so a prediction file survives the round trip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from xml.etree import ElementTree as ET

import numpy as np

from garmentcli import __version__
from garmentcli.errors import FormatError, SchemaError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.cvat import review_categories
from garmentcli.io.df2 import image_ids_from_names
from garmentcli.io.jsonio import OnError, load_json, raise_on_error, write_json_list
from garmentcli.io.visibility import OCCLUDED, UNLABELLED, canonical_flags, from_labelstudio, to_labelstudio
from garmentcli.schema.garments import category_id_of, category_name, landmark_names, validate_garment
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord, value_problems

IMAGE, GARMENT, LANDMARK, VISIBILITY = "image", "garment", "landmark", "visibility"
"""Names of the object and control tags in the labeling config (results refer to them)."""

CONFIG_SUFFIX = ".config.xml"
"""The labeling config is written beside the tasks JSON, its suffix replaced by this."""

POINT_SIZE = 0.4
"""Keypoint ``width`` (drawn size), percent of the image width."""


def labeling_config(category_ids: list[int]) -> str:
    """The Label Studio labeling config XML for these categories (boxes, landmarks, visibility)."""
    view = ET.Element("View")
    ET.SubElement(view, "Image", name=IMAGE, value="$image", zoom="true", zoomControl="true")
    boxes = ET.SubElement(view, "RectangleLabels", name=GARMENT, toName=IMAGE)
    for cid in category_ids:
        ET.SubElement(boxes, "Label", value=category_name(cid))
    points = ET.SubElement(view, "KeyPointLabels", name=LANDMARK, toName=IMAGE, strokeWidth="2")
    names = dict.fromkeys(n for cid in category_ids for n in landmark_names(cid))
    for name in names:
        ET.SubElement(points, "Label", value=name)
    choices = ET.SubElement(
        view, "Choices", name=VISIBILITY, toName=IMAGE, perRegion="true", whenTagName=LANDMARK, choice="single"
    )
    for value in ("visible", "occluded"):
        ET.SubElement(choices, "Choice", value=value)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _region(kind: str, control: str, region_id: str, size: tuple[int, int], value: dict) -> dict[str, Any]:
    return {
        "id": region_id,
        "type": kind,
        "from_name": control,
        "to_name": IMAGE,
        "original_width": size[0],
        "original_height": size[1],
        "image_rotation": 0,
        "value": value,
    }


def garment_results(garment: Garment, region_id: str, size: tuple[int, int]) -> list[dict[str, Any]]:
    """The Label Studio result items of one garment: its rectangle, its keypoints, their visibility."""
    scale = 100.0 / np.asarray(size, dtype=np.float64)
    x, y, w, h = (float(v) for v in garment.bbox * np.tile(scale, 2))
    box = {
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "rotation": 0,
        "rectanglelabels": [category_name(garment.category_id)],
    }
    results = [_region("rectanglelabels", GARMENT, region_id, size, box)]
    if garment.score is not None:
        results[0]["score"] = float(garment.score)
    flags = canonical_flags(garment)
    percent = garment.landmarks[:, :2] * scale
    for i, name in enumerate(landmark_names(garment.category_id)):
        if flags[i] == UNLABELLED:
            continue
        point_id = f"{region_id}-{i + 1}"
        geometry = {"x": float(percent[i, 0]), "y": float(percent[i, 1]), "width": POINT_SIZE}
        point = _region("keypointlabels", LANDMARK, point_id, size, {**geometry, "keypointlabels": [name]})
        point["parentID"] = region_id
        if garment.score is not None:
            point["score"] = float(garment.landmarks[i, 2])
        results.append(point)
        if flags[i] == OCCLUDED:
            results.append(
                _region("choices", VISIBILITY, point_id, size, {**geometry, "choices": [to_labelstudio(OCCLUDED)]})
            )
    return results


def task(record: ImageRecord, image_prefix: str, model_version: str) -> dict[str, Any]:
    """One Label Studio task (an image with its garments as a prediction)."""
    if record.width <= 0 or record.height <= 0:
        raise FormatError(f"{record.file_name}: image size unknown; Label Studio needs it for percent coordinates")
    size = (record.width, record.height)
    result = [item for n, g in enumerate(record.garments, start=1) for item in garment_results(g, f"g{n}", size)]
    prediction: dict[str, Any] = {"model_version": model_version, "result": result}
    scores = [g.score for g in record.garments if g.score is not None]
    if scores:
        prediction["score"] = float(np.mean(scores))
    data = {"image": image_prefix + record.file_name, "file_name": record.file_name, "image_id": record.id}
    return {"data": {**data, "width": record.width, "height": record.height}, "predictions": [prediction]}


def write_labelstudio(
    aset: AnnotationSet, path: Path, *, image_prefix: str = "", model_version: str | None = None
) -> None:
    """Write the tasks JSON at ``path`` and the labeling config at ``path`` with suffix ``.config.xml``."""
    path = Path(path)
    version = model_version or str(aset.info.get("model") or f"garmentkp {__version__}")
    with atomic_write(path.with_suffix(CONFIG_SUFFIX)) as handle:
        handle.write(labeling_config(review_categories(aset)))
    write_json_list((task(r, image_prefix, version) for r in aset.images), path)


# ----------------------------------------------------------------------------------------- reading


def _file_name(data: dict[str, Any]) -> str:
    """The image's file name: the ``file_name`` we wrote, else a local-storage path, else the URL's last part."""
    if data.get("file_name"):
        return str(data["file_name"])
    url = urlparse(str(data.get(IMAGE, "")))
    local = parse_qs(url.query).get("d")  # local storage: ?d=<path under the document root>
    return unquote(local[0]) if local else Path(unquote(url.path)).name


def _chosen_results(item: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Results of the latest annotation that was not cancelled, else of the latest prediction; and whether
    they are a prediction's."""
    annotations = [a for a in item.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    predictions = [p for p in item.get("predictions") or [] if isinstance(p, dict)]  # exports list only their ids
    chosen = annotations or predictions
    results = [r for r in chosen[-1].get("result") or [] if isinstance(r, dict)] if chosen else []
    return results, not annotations


def _aabb(value: dict[str, Any], size: np.ndarray) -> np.ndarray:
    """``[x, y, w, h]`` pixels of a (possibly rotated, about its top-left corner) percent rectangle."""
    x, y, w, h = (float(value[k]) for k in ("x", "y", "width", "height"))
    problem = value_problems(np.array([[x, y, w, h]]), None)[0]
    if problem:  # before rotating, which would turn a negative width into a box
        raise FormatError(f"{problem} (percent of the image)")
    angle = np.deg2rad(float(value.get("rotation") or 0))
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]]) * size / 100
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = corners @ rotation.T + np.array([x, y]) * size / 100
    low, high = points.min(axis=0), points.max(axis=0)
    return np.concatenate([low, high - low])


def _size(data: dict[str, Any], results: list[dict[str, Any]]) -> np.ndarray:
    """Image ``[width, height]``: the task's data, else the first result that records it."""
    sizes = [(data.get("width"), data.get("height"))]
    sizes += [(r.get("original_width"), r.get("original_height")) for r in results]
    for width, height in sizes:
        if width and height:
            return np.array([float(width), float(height)])
    raise FormatError("image size unknown (no data.width/height and no original_width/height)")


def _is_occluded_choice(result: dict[str, Any]) -> bool:
    if result.get("type") != "choices" or result.get("from_name") != VISIBILITY:
        return False
    return from_labelstudio((result.get("value") or {}).get("choices")) == OCCLUDED


def _inside(xy: np.ndarray, garment: Garment) -> bool:
    return bool(np.all(xy >= garment.bbox[:2]) and np.all(xy <= garment.bbox[:2] + garment.bbox[2:]))


class _TaskReader:
    """Turns one task's results into garments, reporting bad regions through ``on_error``."""

    def __init__(
        self, results: list[dict[str, Any]], size: np.ndarray, on_error: OnError, where: str, predicted: bool
    ) -> None:
        self.size, self.on_error, self.where = size, on_error, where
        self.predicted = predicted
        """Results of a prediction: region scores are the garment's score and its landmarks' confidences."""
        self.occluded = {r.get("id") for r in results if _is_occluded_choice(r)}
        self.garments: dict[str, Garment] = {}
        for r in results:
            if r.get("type") == "rectanglelabels":
                self._add_box(r)
        for r in results:
            if r.get("type") == "keypointlabels":
                self._add_point(r)
        for region_id, garment in list(self.garments.items()):
            try:
                validate_garment(garment)
            except FormatError as exc:
                self.on_error(f"{self.where}: region {region_id!r}: {exc}")
                del self.garments[region_id]

    def _fail(self, region: dict[str, Any], message: str) -> None:
        self.on_error(f"{self.where}: region {region.get('id')!r}: {message}")

    def _add_box(self, region: dict[str, Any]) -> None:
        try:
            value = region["value"]
            category_id = category_id_of(value["rectanglelabels"][0])
            bbox = _aabb(value, self.size)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self._fail(region, f"malformed rectangle ({type(exc).__name__}: {exc})")
            return
        except (FormatError, SchemaError) as exc:
            self._fail(region, str(exc))
            return
        landmarks = np.zeros((len(landmark_names(category_id)), 3))
        self.garments[str(region.get("id"))] = Garment(category_id, bbox, landmarks, score=self._score(region))

    def _score(self, region: dict[str, Any]) -> float | None:
        """A prediction region's score (None for ground truth, or a region without one)."""
        score = region.get("score") if self.predicted else None
        return float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None

    def _owner(self, region: dict[str, Any], name: str, xy: np.ndarray) -> Garment | None:
        parent = self.garments.get(str(region.get("parentID")))
        if parent is not None:
            return parent
        candidates = [g for g in self.garments.values() if name in landmark_names(g.category_id) and _inside(xy, g)]
        return min(candidates, key=lambda g: g.area) if candidates else None

    def _add_point(self, region: dict[str, Any]) -> None:
        try:
            value = region["value"]
            name = value["keypointlabels"][0]
            xy = np.array([float(value["x"]), float(value["y"])]) * self.size / 100
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self._fail(region, f"malformed keypoint ({type(exc).__name__}: {exc})")
            return
        garment = self._owner(region, name, xy)
        if garment is None:
            self._fail(region, f"keypoint {name!r} belongs to no garment (no parentID, inside no fitting box)")
            return
        names = landmark_names(garment.category_id)
        if name not in names:
            self._fail(region, f"keypoint {name!r} is not a landmark of {category_name(garment.category_id)}")
            return
        row = garment.landmarks[names.index(name)]
        if row[2] != UNLABELLED:
            self._fail(region, f"second {name!r} keypoint for one garment; the first is kept")
            return
        flag = OCCLUDED if region.get("id") in self.occluded else from_labelstudio(None)
        if garment.score is None:
            row[:] = [*xy, flag]
        else:  # a predicted garment's landmark: its confidence (a point given without one counts as sure)
            confidence = self._score(region)
            row[:] = [*xy, 1.0 if confidence is None else confidence]


def read_labelstudio(path: Path, on_error: OnError | None = None) -> AnnotationSet:
    """Read a Label Studio JSON export (or tasks file) into ground-truth garments."""
    on_error = on_error or raise_on_error
    path = Path(path)
    items = load_json(path)
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list):
        raise FormatError(f"{path}: not a Label Studio export (expected a list of tasks)")
    images: list[ImageRecord] = []
    given_ids: list[Any] = []
    for index, item in enumerate(items):
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict):
            on_error(f"{path}: task {index}: no data object")
            continue
        where = f"{path}: task {item.get('id', index)}"
        results, predicted = _chosen_results(item)
        try:
            size = _size(data, results)
        except FormatError as exc:
            on_error(f"{where}: {exc}")
            continue
        reader = _TaskReader(results, size, on_error, where, predicted)
        images.append(ImageRecord(0, _file_name(data), int(size[0]), int(size[1]), list(reader.garments.values())))
        given_ids.append(data.get("image_id"))
    # the image ids we wrote when every task has one, else ids from the file names
    names = [r.file_name for r in images]
    ids = given_ids if all(isinstance(i, int) for i in given_ids) else image_ids_from_names(names)
    for record, image_id in zip(images, ids, strict=True):
        record.id = image_id
    return AnnotationSet(images)
