"""CVAT for images 1.1 XML: pre-annotations to import into CVAT, and CVAT's own export read back.

Labels (written in ``<meta>`` and, for creating the task, as CVAT's raw label JSON beside the
XML in ``<name>.labels.json``): per category a rectangle label named after the category
(``short_sleeved_shirt``) and a skeleton label ``short_sleeved_shirt_landmarks`` whose points
are the category's semantic landmark names (unique within the skeleton, as CVAT requires;
edges follow the garment outline). Per garment, a ``<box>`` and a ``<skeleton>`` share a
``group_id``. Landmark visibility uses CVAT's point flags (:mod:`garmentcli.io.visibility`):
occluded -> ``occluded="1"``, not labelled -> ``outside="1"`` (placed at the box centre so it
appears inside the garment when a reviewer switches it on). A prediction's shapes have
``source="auto"``; its box carries the garment's score and each skeleton point its landmark's
confidence as a ``score`` number attribute (declared on the labels and point sublabels).

Reading accepts the same XML (or CVAT's export ZIP holding ``annotations.xml``): boxes and
skeletons are paired by ``group_id``; a skeleton without a box gets the box around its
labelled points, a box without a skeleton has no labelled landmarks. A garment whose shapes are
still ``source="auto"`` (nobody edited them: CVAT marks an edited shape ``semi-auto``) comes back
as the prediction it was, with its score and confidences; every other garment is ground truth
(what reviewers corrected), with visibility flags.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
import numpy as np
from defusedxml import DefusedXmlException

from garmentcli.errors import FormatError, InputError, SchemaError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.coco import box_from_landmarks
from garmentcli.io.df2 import image_ids_from_names
from garmentcli.io.jsonio import OnError, raise_on_error, write_json
from garmentcli.io.visibility import canonical_flags, from_cvat, to_cvat
from garmentcli.schema.fld import FLD_CATEGORY_IDS, is_fld
from garmentcli.schema.garments import category_id_of, category_name, landmark_names, validate_garment
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

SKELETON_SUFFIX = "_landmarks"
"""Skeleton label = category name + this suffix; the plain category name labels the box."""

LABELS_SUFFIX = ".labels.json"
"""The raw label JSON is written beside the XML, the XML's suffix replaced by this."""

SCORE_RANGE = ["0", "1", "0.0001"]
"""CVAT number attribute values: minimum, maximum, step."""

_NUMBER = "{:.2f}"
_SCORE = "{:.4f}"
"""Scores and landmark confidences: the ``score`` attribute's precision (CVAT number attribute steps)."""


def review_categories(aset: AnnotationSet) -> list[int]:
    """Every category of the kinds present (all 13 DeepFashion2 ones / all 3 FLD types), so reviewers can add
    garments the detector missed."""
    present = {g.category_id for _, g in aset.garments()}
    df2_ids = list(DF2.ids) if not present or any(not is_fld(c) for c in present) else []
    return df2_ids + (list(FLD_CATEGORY_IDS.values()) if any(is_fld(c) for c in present) else [])


def _edges(category_id: int) -> list[tuple[int, int]]:
    """Skeleton edges (0-based landmark indices): consecutive points of the outline polylines."""
    if is_fld(category_id):
        return []
    chains = DF2.category(category_id).outline_indices()
    return [pair for chain in chains for pair in itertools.pairwise(chain)]


def skeleton_svg(category_id: int) -> str:
    """CVAT's skeleton template: points on an ellipse in landmark order (which runs around the
    garment outline), outline edges between them; each node names its point label."""
    names = landmark_names(category_id)
    angles = np.pi / 2 + 2 * np.pi * np.arange(len(names)) / len(names)
    xy = np.stack([50 - 40 * np.cos(angles), 50 - 45 * np.sin(angles)], axis=1)
    lines = [
        f'<line x1="{xy[a, 0]:.1f}" y1="{xy[a, 1]:.1f}" x2="{xy[b, 0]:.1f}" y2="{xy[b, 1]:.1f}" '
        f'data-type="edge" data-node-from="{a + 1}" data-node-to="{b + 1}"></line>'
        for a, b in _edges(category_id)
    ]
    circles = [
        f'<circle r="0.75" cx="{x:.1f}" cy="{y:.1f}" data-type="element node" '
        f'data-element-id="{i + 1}" data-node-id="{i + 1}" data-label-name="{name}"></circle>'
        for i, (name, (x, y)) in enumerate(zip(names, xy, strict=True))
    ]
    return "".join(lines + circles)


def raw_labels(category_ids: list[int]) -> list[dict[str, Any]]:
    """CVAT's raw label specification (paste into the task's label constructor, "Raw" tab)."""
    labels: list[dict[str, Any]] = []
    score = {"name": "score", "mutable": False, "input_type": "number", "default_value": "0", "values": SCORE_RANGE}
    for cid in category_ids:
        name = category_name(cid)
        labels.append({"name": name, "type": "rectangle", "attributes": [score]})
        labels.append(
            {
                "name": name + SKELETON_SUFFIX,
                "type": "skeleton",
                "attributes": [],
                "sublabels": [{"name": n, "type": "points", "attributes": [score]} for n in landmark_names(cid)],
                "svg": skeleton_svg(cid),
            }
        )
    return labels


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _attribute_specs(label: ET.Element, specs: list[dict[str, Any]]) -> None:
    attributes = _sub(label, "attributes")
    for attr in specs:
        element = _sub(attributes, "attribute")
        for key in ("name", "mutable", "input_type", "default_value"):
            _sub(element, key, str(attr[key]))
        _sub(element, "values", "\n".join(attr["values"]))


def _meta(aset: AnnotationSet, category_ids: list[int]) -> ET.Element:
    meta = ET.Element("meta")
    task = _sub(meta, "task")
    _sub(task, "name", "garmentkp")
    _sub(task, "size", str(len(aset)))
    _sub(task, "mode", "annotation")
    labels = _sub(task, "labels")
    for spec in raw_labels(category_ids):
        label = _sub(labels, "label")
        _sub(label, "name", spec["name"])
        _sub(label, "type", spec["type"])
        _attribute_specs(label, spec["attributes"])
        if spec["type"] == "skeleton":
            _sub(label, "svg", spec["svg"])
            for point in spec["sublabels"]:
                sublabel = _sub(labels, "label")
                _sub(sublabel, "name", point["name"])
                _sub(sublabel, "type", "points")
                _attribute_specs(sublabel, point["attributes"])
                _sub(sublabel, "parent", spec["name"])
    return meta


def _garment_elements(parent: ET.Element, garment: Garment, group_id: int) -> None:
    name = category_name(garment.category_id)
    x, y, w, h = garment.bbox
    source = "manual" if garment.score is None else "auto"
    common = {"source": source, "z_order": "0", "group_id": str(group_id)}
    box = _sub(
        parent, "box", label=name, occluded="0",
        xtl=_NUMBER.format(x), ytl=_NUMBER.format(y), xbr=_NUMBER.format(x + w), ybr=_NUMBER.format(y + h), **common,
    )  # fmt: skip
    if garment.score is not None:
        _sub(box, "attribute", _SCORE.format(garment.score), name="score")
    skeleton = _sub(parent, "skeleton", label=name + SKELETON_SUFFIX, **common)
    outside, occluded = to_cvat(canonical_flags(garment))
    centre = (x + w / 2, y + h / 2)
    for i, point_name in enumerate(landmark_names(garment.category_id)):
        px, py = centre if outside[i] else garment.landmarks[i, :2]
        point = _sub(
            skeleton, "points", label=point_name, source=source, outside=str(int(outside[i])),
            occluded=str(int(occluded[i])), points=f"{_NUMBER.format(px)},{_NUMBER.format(py)}",
        )  # fmt: skip
        if garment.score is not None:
            _sub(point, "attribute", _SCORE.format(garment.landmarks[i, 2]), name="score")


def cvat_tree(aset: AnnotationSet) -> ET.ElementTree:
    """The whole CVAT for images 1.1 document (images in lexical order of their names)."""
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    root.append(_meta(aset, review_categories(aset)))
    group_id = 0
    for index, record in enumerate(sorted(aset.images, key=lambda r: r.file_name)):
        image = _sub(
            root, "image", id=str(index), name=record.file_name, width=str(record.width), height=str(record.height)
        )
        for garment in record.garments:
            group_id += 1
            _garment_elements(image, garment, group_id)
    ET.indent(root)
    return ET.ElementTree(root)


def write_cvat(aset: AnnotationSet, path: Path) -> None:
    """Write the CVAT XML at ``path`` (a ``.zip`` path: a task ZIP holding ``annotations.xml``, as CVAT
    exports and imports it) and the raw label JSON at ``path`` with suffix ``.labels.json``."""
    path = Path(path)
    write_json(raw_labels(review_categories(aset)), path.with_suffix(LABELS_SUFFIX))
    if path.suffix.lower() == ".zip":
        xml = io.BytesIO()
        cvat_tree(aset).write(xml, encoding="utf-8", xml_declaration=True)
        with atomic_write(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("annotations.xml", xml.getvalue())
        return
    with atomic_write(path, "wb") as handle:
        cvat_tree(aset).write(handle, encoding="utf-8", xml_declaration=True)


# ----------------------------------------------------------------------------------------- reading


def _open_xml(path: Path) -> io.BufferedIOBase:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "annotations.xml" not in archive.namelist():
                raise FormatError(f"{path}: the ZIP holds no annotations.xml (export as 'CVAT for images 1.1')")
            return io.BytesIO(archive.read("annotations.xml"))
    return path.open("rb")


def _category_of_label(label: str, skeleton: bool) -> int:
    base = label[: -len(SKELETON_SUFFIX)] if skeleton and label.endswith(SKELETON_SUFFIX) else label
    return category_id_of(base)


def _score_attribute(element: ET.Element) -> float | None:
    """The ``score`` attribute of a shape or point, None when it has none."""
    for attribute in element.findall("attribute"):
        if attribute.get("name") == "score":
            try:
                return float(attribute.text or "")
            except ValueError:
                raise FormatError(f"score attribute {attribute.text!r} is not a number") from None
    return None


def _skeleton_landmarks(element: ET.Element, category_id: int, predicted: bool = False) -> np.ndarray:
    """Landmarks of a skeleton: visibility flags, or with ``predicted`` the points' ``score`` confidences."""
    names = landmark_names(category_id)
    index = {n: i for i, n in enumerate(names)}
    landmarks = np.zeros((len(names), 3))
    outside = np.ones(len(names), dtype=bool)
    occluded = np.zeros(len(names), dtype=bool)
    for point in element.iter("points"):
        label = point.get("label", "")
        if label not in index:
            raise FormatError(f"point {label!r} is not a landmark of {category_name(category_id)}")
        i = index[label]
        try:
            landmarks[i, :2] = [float(v) for v in point.get("points", "").split(";")[0].split(",")]
        except ValueError:
            raise FormatError(f"point {label!r} has malformed points {point.get('points')!r}") from None
        outside[i] = point.get("outside", "0") == "1"
        occluded[i] = point.get("occluded", "0") == "1"
        if predicted:
            confidence = _score_attribute(point)
            landmarks[i, 2] = 1.0 if confidence is None else confidence  # a point without one counts as sure
    if not predicted:
        landmarks[:, 2] = from_cvat(outside, occluded)
    landmarks[outside, :] = 0
    return landmarks


def _box(element: ET.Element) -> np.ndarray:
    try:
        xtl, ytl, xbr, ybr = (float(element.get(k, "")) for k in ("xtl", "ytl", "xbr", "ybr"))
    except ValueError:
        raise FormatError("box with missing or malformed corners") from None
    return np.array([xtl, ytl, xbr - xtl, ybr - ytl])


def _predicted_score(box: ET.Element | None, skeleton: ET.Element | None) -> float | None:
    """The detector's score of a garment nobody changed in CVAT (box and skeleton ``source="auto"``, the
    box with its ``score``); None for ground truth: CVAT marks a shape a reviewer edited ``semi-auto``."""
    if box is None or any(shape is not None and shape.get("source") != "auto" for shape in (box, skeleton)):
        return None
    return _score_attribute(box)


def _image_garments(image: ET.Element, on_error: OnError, where: str) -> Iterator[Garment]:
    """Pair boxes and skeletons by group_id (ungrouped shapes stand alone) into garments."""
    shapes: dict[Any, dict[str, ET.Element]] = {}
    for n, element in enumerate(e for e in image if e.tag in ("box", "skeleton")):
        group = element.get("group_id", "0")
        group = group if group != "0" else f"ungrouped-{n}"
        if element.tag in shapes.setdefault(group, {}):
            on_error(f"{where}: group {group} has two {element.tag} shapes; the second is skipped")
            continue
        shapes[group][element.tag] = element
    for group, pair in shapes.items():
        try:
            box, skeleton = pair.get("box"), pair.get("skeleton")
            box_cat = _category_of_label(box.get("label", ""), False) if box is not None else None
            skel_cat = _category_of_label(skeleton.get("label", ""), True) if skeleton is not None else None
            if box_cat is not None and skel_cat is not None and box_cat != skel_cat:
                raise FormatError(f"box {category_name(box_cat)} grouped with skeleton {category_name(skel_cat)}")
            category_id = box_cat if box_cat is not None else skel_cat
            score = _predicted_score(box, skeleton)
            landmarks = (
                _skeleton_landmarks(skeleton, category_id, score is not None)
                if skeleton is not None
                else np.zeros((len(landmark_names(category_id)), 3))
            )
            bbox = _box(box) if box is not None else box_from_landmarks(landmarks)
            garment = Garment(category_id, bbox, landmarks, score=score)
            validate_garment(garment)
            yield garment
        except (FormatError, SchemaError) as exc:
            on_error(f"{where}: group {group}: {exc}")


def read_cvat(path: Path, on_error: OnError | None = None) -> AnnotationSet:
    """Read a CVAT for images 1.1 XML (or its export ZIP) into ground-truth garments."""
    on_error = on_error or raise_on_error
    path = Path(path)
    records: list[ImageRecord] = []
    with _open_xml(path) as handle:
        try:
            for _, element in SafeET.iterparse(handle, events=("end",)):  # no entity expansion, no DTDs
                if element.tag != "image":
                    continue
                where = f"{path}: image {element.get('name', '?')!r}"
                try:
                    size = [int(element.get(key) or 0) for key in ("width", "height")]
                except ValueError:
                    sizes = f"{element.get('width')!r} x {element.get('height')!r}"
                    on_error(f"{where}: width and height must be whole numbers, got {sizes}")
                    element.clear()
                    continue
                record = ImageRecord(0, element.get("name", ""), *size)
                record.garments.extend(_image_garments(element, on_error, where))
                records.append(record)
                element.clear()
        except ET.ParseError as exc:
            raise FormatError(f"{path}: malformed XML ({exc})") from None
        except DefusedXmlException as exc:
            raise FormatError(f"{path}: refused XML ({type(exc).__name__}: entities and DTDs are not read)") from None
    for record, image_id in zip(records, image_ids_from_names([r.file_name for r in records]), strict=True):
        record.id = image_id
    return AnnotationSet(records)
