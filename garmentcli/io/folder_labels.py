"""Weakly-labelled photos: a folder per class and a mapping file naming the categories each class allows.

The mapping is a JSON file::

    {"format": "garmentkp-folder-labels",
     "folders": {"t-shirt": ["short_sleeved_shirt"], "shirt": [1, 2], "hat": []}}

Each key is a sub-folder of the photo folder (every image below it, recursively, is one photo
of that class); each value lists the DeepFashion2 categories (names or ids) that a garment in
such a photo may have. An empty list marks a class of photos that hold no garment at all (hats,
shoes): hard negatives. Such photos carry no boxes or landmarks; training uses them through
their allowed set (see :func:`garmentcli.train.losses.weak_losses`). On the command line the
pair is written ``PHOTO_DIR@MAPPING.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from garmentcli.errors import InputError, SchemaError
from garmentcli.io.jsonio import load_json
from garmentcli.io.sources import expand_sources
from garmentcli.schema.layout import DF2

FORMAT = "garmentkp-folder-labels"


@dataclass(frozen=True)
class LabelledPhoto:
    """One weakly-labelled photo: its file, its name relative to the photo folder, and its allowed categories."""

    path: Path
    name: str
    allowed: frozenset[int]


def read_folder_mapping(path: Path) -> dict[str, frozenset[int]]:
    """Folder name -> allowed category ids, validated; a one-line :class:`InputError` naming the entry otherwise."""
    data = load_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("folders"), dict):
        raise InputError(f'{path}: not a folder-label mapping (expected {{"format": "{FORMAT}", "folders": {{...}}}})')
    mapping: dict[str, frozenset[int]] = {}
    for folder, categories in data["folders"].items():
        if not isinstance(categories, list):
            raise InputError(f"{path}: folder {folder!r}: expected a list of categories, got {categories!r}")
        try:
            mapping[folder] = frozenset(DF2.category(c).id for c in categories)
        except SchemaError as exc:
            raise InputError(f"{path}: folder {folder!r}: {exc}") from exc
    if not mapping:
        raise InputError(f"{path}: the mapping names no folders")
    return mapping


def read_labelled_photos(root: Path, mapping_path: Path) -> list[LabelledPhoto]:
    """Every photo in the mapped sub-folders of ``root``, in name order.

    A mapped folder that is missing or empty is an error (the mapping and the photos disagree).
    """
    if not root.is_dir():
        raise InputError(f"{root}: photo folder not found")
    mapping = read_folder_mapping(mapping_path)
    photos: list[LabelledPhoto] = []
    for folder, allowed in sorted(mapping.items()):
        if not (root / folder).is_dir():
            raise InputError(f"{mapping_path}: folder {folder!r} not found in {root}")
        sources = expand_sources([str(root / folder)])
        photos += [LabelledPhoto(s.path, f"{folder}/{s.name}", allowed) for s in sources]
    return photos


def photo_folder(name: str) -> str:
    """The class folder of a photo from its :attr:`LabelledPhoto.name` (``"t-shirt/0001.jpg"`` -> ``"t-shirt"``)."""
    return name.split("/", 1)[0]
