"""The hand-checked real-photo validation set (``benchmarks/data/clothing_small_val.json``) and its scoring.

Shared by ``benchmarks/bench_real.py`` and ``tests/test_real_photos.py``. The photos themselves are
``../shared/data/real/clothing_small/validation`` (CC0) and are never copied into the repository;
the labels file holds, per photo, its folder, the DeepFashion2 categories that folder allows and,
for garment photos, one hand-checked box per garment (see ``benchmarks/data/README.md``).

The figures, per folder and overall:

* **category**: share of garment photos whose top-scoring detection has an allowed category
  (no detection at all counts as wrong);
* **box IoU >= 0.5**: share of hand boxes matched by some detection (any category) with box IoU >= 0.5;
* **negatives**: share of hat and shoe photos (nothing to find) with a detection scoring >= 0.5.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.io.sources import ImageSource
from garmentcli.metrics.similarity import box_iou_pairs
from garmentcli.schema.records import Garment

LABELS = Path(__file__).resolve().parent / "data" / "clothing_small_val.json"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "real"
"""``../shared/data/real`` beside the checkout: ``clothing_small/``, ``deepfashion2/``, ``fld/``."""
SUBSETS = ("all", "test_sample", "selection")
MATCH_IOU = 0.5
NEGATIVE_SCORE = 0.5
GOALS = {"category": 0.85, "category_per_folder": 0.70, "negatives_at_most": 0.10, "box_iou": 0.90}
"""Issue 14: top category right >= 85 % overall and >= 70 % in every folder, hats/shoes with a
detection >= 0.5 at most 10 %, box IoU >= 0.5 for >= 90 % of the garments."""


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo of the labels file."""

    file_name: str
    """Relative to ``clothing_small/validation``, e.g. ``t-shirt/abc.jpg``."""
    width: int
    height: int
    folder: str
    allowed: frozenset[int]
    boxes: np.ndarray
    """``(n, 4)`` hand-checked ``x, y, w, h`` in original pixels; ``(0, 4)`` for hats and shoes."""

    @property
    def negative(self) -> bool:
        """A hat or shoe photo: no DeepFashion2 garment to find."""
        return not self.allowed


def load_labels(path: Path = LABELS) -> dict[str, Any]:
    """The labels file as stored."""
    return json.loads(Path(path).read_text())


def labelled_photos(subset: str = "all", path: Path = LABELS) -> list[LabelledPhoto]:
    """The labelled photos of ``subset`` (``all``, ``test_sample`` or ``selection``), in file order."""
    if subset not in SUBSETS:
        raise ValueError(f"subset {subset!r}: choose from {', '.join(SUBSETS)}")
    raw = load_labels(path)
    chosen = None if subset == "all" else set(raw[subset])
    return [
        LabelledPhoto(
            entry["file_name"],
            int(entry["width"]),
            int(entry["height"]),
            entry["folder"],
            frozenset(entry["allowed"]),
            np.asarray(entry.get("boxes", []), dtype=np.float64).reshape(-1, 4),
        )
        for entry in raw["images"]
        if chosen is None or entry["file_name"] in chosen
    ]


def photo_folder(root: Path = DEFAULT_ROOT) -> Path:
    """Where the labelled photos are: ``ROOT/clothing_small/validation``."""
    return Path(root) / "clothing_small" / "validation"


def sources(photos: Sequence[LabelledPhoto], root: Path = DEFAULT_ROOT) -> list[ImageSource]:
    """The photos as predictor inputs (names as in the labels file)."""
    folder = photo_folder(root)
    return [ImageSource(folder / photo.file_name, photo.file_name, folder) for photo in photos]


@dataclass(frozen=True)
class Outcome:
    """What the detections on one photo scored."""

    folder: str
    negative: bool
    top_category: int | None
    top_score: float
    category_right: bool
    """Garment photos: the top-scoring detection's category is allowed (False without detections)."""
    garments: int
    matched: int
    """Hand boxes with a detection (any category) at box IoU >= :data:`MATCH_IOU`."""
    negative_hit: bool
    """Hats and shoes: some detection scores >= :data:`NEGATIVE_SCORE`."""


def _ious(truth: np.ndarray, found: np.ndarray) -> np.ndarray:
    """``(len(truth), len(found))`` box IoUs, through the metrics' own pairwise IoU."""
    if len(truth) == 0 or len(found) == 0:
        return np.zeros((len(truth), len(found)))
    rows, cols = np.meshgrid(np.arange(len(truth)), np.arange(len(found)), indexing="ij")
    ious = box_iou_pairs(found[cols.ravel()], truth[rows.ravel()], np.zeros(rows.size, dtype=bool))
    return np.asarray(ious, dtype=np.float64).reshape(len(truth), len(found))


def score_photo(photo: LabelledPhoto, garments: Iterable[Garment]) -> Outcome:
    """Score one photo's detections (already cut at the detection threshold)."""
    found = sorted(garments, key=lambda g: -(g.score or 0.0))
    top = found[0] if found else None
    top_score = float(top.score or 0.0) if top is not None else 0.0
    boxes = np.array([g.bbox for g in found], dtype=np.float64).reshape(-1, 4)
    matched = int(np.count_nonzero((_ious(photo.boxes, boxes) >= MATCH_IOU).any(axis=1))) if len(boxes) else 0
    return Outcome(
        folder=photo.folder,
        negative=photo.negative,
        top_category=None if top is None else int(top.category_id),
        top_score=top_score,
        category_right=top is not None and int(top.category_id) in photo.allowed,
        garments=len(photo.boxes),
        matched=matched,
        negative_hit=photo.negative and any((g.score or 0.0) >= NEGATIVE_SCORE for g in found),
    )


def _share(hits: int, count: int) -> float | None:
    return hits / count if count else None


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Shares per folder and overall: ``category``, ``box_iou``, and ``negatives`` for hats/shoes."""
    by_folder: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_folder[outcome.folder].append(outcome)

    def figures(group: Sequence[Outcome]) -> dict[str, Any]:
        garment_photos = [o for o in group if not o.negative]
        negatives = [o for o in group if o.negative]
        garments = sum(o.garments for o in garment_photos)
        out: dict[str, Any] = {"photos": len(group)}
        if garment_photos:
            out.update(
                garments=garments,
                category=_share(sum(o.category_right for o in garment_photos), len(garment_photos)),
                box_iou=_share(sum(o.matched for o in garment_photos), garments),
            )
        if negatives:
            out["negatives"] = _share(sum(o.negative_hit for o in negatives), len(negatives))
        return out

    return {
        "folders": {folder: figures(group) for folder, group in sorted(by_folder.items())},
        "garment_photos": figures([o for o in outcomes if not o.negative]),
        "negative_photos": figures([o for o in outcomes if o.negative]),
    }


def goals_met(summary: dict[str, Any]) -> dict[str, bool]:
    """Which of :data:`GOALS` the summary meets (a goal without figures counts as not met)."""
    overall, negatives = summary["garment_photos"], summary["negative_photos"]
    per_folder = [f["category"] for f in summary["folders"].values() if f.get("category") is not None]
    return {
        "category": (overall.get("category") or 0.0) >= GOALS["category"],
        "category_per_folder": bool(per_folder) and min(per_folder) >= GOALS["category_per_folder"],
        "negatives": negatives.get("negatives") is not None and negatives["negatives"] <= GOALS["negatives_at_most"],
        "box_iou": (overall.get("box_iou") or 0.0) >= GOALS["box_iou"],
    }


def detect_photos(predictor: Any, photos: Sequence[LabelledPhoto], root: Path = DEFAULT_ROOT) -> list[list[Garment]]:
    """Each photo's garments from a :class:`~garmentcli.runtime.predictor.Predictor`, in order."""
    records = list(predictor.predict_sources(sources(photos, root), ids=list(range(1, len(photos) + 1))))
    if len(records) != len(photos):
        raise RuntimeError(f"{len(photos) - len(records)} of {len(photos)} photos could not be read")
    return [record.garments for record in records]


def score_photos(photos: Sequence[LabelledPhoto], detections: Sequence[Sequence[Garment]]) -> list[Outcome]:
    """Score each photo's detections (:func:`detect_photos`' output)."""
    return [score_photo(photo, found) for photo, found in zip(photos, detections, strict=True)]


def evaluate_photos(predictor: Any, photos: Sequence[LabelledPhoto], root: Path = DEFAULT_ROOT) -> list[Outcome]:
    """Detect on the photos and score each one."""
    return score_photos(photos, detect_photos(predictor, photos, root))
