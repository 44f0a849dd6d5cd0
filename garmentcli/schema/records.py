"""The one in-memory model every reader fills and every writer serialises.

An :class:`AnnotationSet` holds :class:`ImageRecord` s, each holding :class:`Garment` s. A
garment stores only its own category's landmarks, ``(K, 3)`` rows of ``x, y, v`` in dataset
order; :meth:`Garment.slots` expands them into the full landmark vector of their layout (the
DeepFashion2 294 slots with zeros outside the category, or FLD's 8), the one place that vector is built.
``v`` is 2 visible, 1 occluded, 0 not labelled for ground truth; for predictions
it is the landmark's confidence as the detector reports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from garmentcli.errors import FormatError
from garmentcli.schema.fld import FLD_LANDMARKS, is_fld
from garmentcli.schema.layout import DF2, NUM_LANDMARKS, Category

RUN_KEY = "garmentkp_run"
"""Key of what a run recorded about itself (:attr:`AnnotationSet.info`): the settings that shaped its
results, the folder its image names are relative to, the tool version. COCO files keep it at the top
level, JSON Lines files on their first line."""

ATTRIBUTE_KEYS = ("scale", "occlusion", "zoom_in", "viewpoint", "style")
"""DeepFashion2 per-garment attributes kept on :attr:`Garment.attributes` when present."""


@dataclass
class Garment:
    """One garment: a box, a category, its landmarks, and what else the source carried."""

    category_id: int
    bbox: np.ndarray
    """``[x, y, w, h]`` in pixels of the original image."""
    landmarks: np.ndarray
    """``(K, 3)`` rows ``x, y, v`` for the K landmarks of the category, dataset order."""
    score: float | None = None
    id: int | None = None
    segmentation: list[list[float]] | dict[str, Any] | None = None
    """Polygons ``[x0, y0, x1, y1, ...]`` (ground truth), or a COCO RLE ``{"size": [h, w], "counts": str}``
    (``detect --masks``, :mod:`garmentcli.io.rle`)."""
    attributes: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys of the source entry this model has no field for, kept for writing back."""

    def __post_init__(self) -> None:
        self.bbox = np.asarray(self.bbox, dtype=np.float64).reshape(4)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float64).reshape(-1, 3)

    @property
    def category(self) -> Category:
        return DF2.category(self.category_id)

    @property
    def num_labelled(self) -> int:
        """Landmarks with v > 0 (COCO's ``num_keypoints``)."""
        return int(np.count_nonzero(self.landmarks[:, 2] > 0))

    @property
    def area(self) -> float:
        return float(self.bbox[2] * self.bbox[3])

    def slots(self) -> np.ndarray:
        """The full ``(W, 3)`` landmark array of the garment's layout: DeepFashion2's 294 slots with this
        category's filled and zeros elsewhere, or, for the FLD pseudo-categories, the 8 FLD slots."""
        if is_fld(self.category_id):
            full = np.zeros((len(FLD_LANDMARKS), 3))
            full[: len(self.landmarks)] = self.landmarks
            return full
        full = np.zeros((NUM_LANDMARKS, 3))
        full[self.category.slice] = self.landmarks
        return full

    def validate(self) -> None:
        """Raise :class:`FormatError` (one line) when the garment cannot be right."""
        category = DF2.category(self.category_id)
        if self.landmarks.shape != (category.num_landmarks, 3):
            raise FormatError(
                f"{category.name} needs {category.num_landmarks} landmarks, got {self.landmarks.shape[0]}"
            )
        self.validate_values()

    def validate_values(self) -> None:
        """The checks every garment needs whatever its landmark layout (see :func:`value_problems`)."""
        score = np.array([np.nan if self.score is None else self.score])
        problem = value_problems(self.bbox[None], self.landmarks[None], score, self.score is not None)[0]
        if problem:
            raise FormatError(problem)


def entry_label(entry: Any, index: int) -> str:
    """How messages name a COCO annotation: by its id when it has one, else by its position."""
    if isinstance(entry, dict) and "id" in entry:
        return f"annotation id={entry['id']}"
    return f"annotation #{index}"


def value_problems(
    bbox: np.ndarray, landmarks: np.ndarray | None, score: np.ndarray | None = None, scored: Any = False
) -> list[str]:
    """The value gate every reader's garments pass, for ``N`` garments at once: one message per garment
    ("" when it is fine), the first problem found.

    ``bbox`` ``(N, 4)`` ``x, y, w, h``; ``landmarks`` ``(N, K, 3)`` (or None); ``score`` ``(N,)`` with
    ``scored`` (a bool or an ``(N,)`` mask) saying which garments carry one. Checked: finite numbers,
    a box with area (corners in order), a finite score.
    """
    bbox = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    count = bbox.shape[0]
    finite = np.isfinite(bbox).all(axis=1)
    if landmarks is not None and landmarks.size:
        finite &= np.isfinite(np.asarray(landmarks, dtype=np.float64).reshape(count, -1)).all(axis=1)
    with np.errstate(invalid="ignore"):
        empty = (bbox[:, 2] <= 0) | (bbox[:, 3] <= 0)
    bad_score = np.zeros(count, dtype=bool)
    if score is not None:
        bad_score = np.broadcast_to(np.asarray(scored, dtype=bool), (count,)) & ~np.isfinite(score)
    problems = [""] * count
    for row in np.flatnonzero(~finite | empty | bad_score).tolist():
        if not finite[row]:
            problems[row] = "NaN or infinite coordinate"
        elif empty[row]:
            problems[row] = f"box has no area: w={bbox[row, 2]:g}, h={bbox[row, 3]:g}"
        else:
            problems[row] = "score is NaN or infinite"
    return problems


@dataclass
class ImageRecord:
    """One image and the garments on it."""

    id: int
    file_name: str
    """Path relative to the image root (as COCO's ``file_name``)."""
    width: int = 0
    height: int = 0
    garments: list[Garment] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """Image-level keys the model has no field for (DeepFashion2 ``source``/``pair_id``, synth truth …)."""


@dataclass
class AnnotationSet:
    """Images with their garments: ground truth or predictions, whatever the source format."""

    images: list[ImageRecord] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    named: bool = True
    """Whether the images' ``file_name`` s come from the source (False: made up, as for a bare result list)."""

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self.images)

    @property
    def num_garments(self) -> int:
        return sum(len(image.garments) for image in self.images)

    def garments(self) -> Iterator[tuple[ImageRecord, Garment]]:
        """Every garment with the image it is on."""
        for image in self.images:
            for garment in image.garments:
                yield image, garment

    def by_id(self) -> dict[int, ImageRecord]:
        return {image.id: image for image in self.images}

    @property
    def is_prediction(self) -> bool:
        """True when every garment carries a score (detector output rather than ground truth)."""
        return self.num_garments > 0 and all(g.score is not None for _, g in self.garments())
