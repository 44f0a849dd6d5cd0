"""Which prediction image is which ground-truth image, and which prediction stands for which garment.

Images (:func:`pair_images`, ``garmentkp eval --pair-by``): by file name when both sides carry
names, else by image id. Names match when equal, or when one is the other under a folder
prefix that the most names share (``marker/image/000001.jpg`` from ``detect sample_images/``
against ``000001.jpg`` of ``sample_images/marker/coco.json``). Where pairing by name and by id
would give a prediction image different ground truth, ``"auto"`` stops (:class:`InputError`)
instead of scoring the wrong images; ``"name"`` and ``"id"`` choose.

Garments, for the landmark-only metrics (PCK, EPE, NE …):

* ``"oks"`` (detections): the rule of keypoint AP. Per image and predicted category, predictions
  in score order (at most 20) each take the free ground truth of that category with the highest
  OKS (> 0), preferring garments with labelled landmarks, exactly as ``COCOeval`` matches.
* ``"id"`` (top-down predictions made from the ground-truth boxes): a prediction carries the id
  of the ground-truth annotation it was made for; the best-scored one per annotation counts.
* ``"auto"``: ``"id"`` when every prediction carries the id of a ground-truth garment of its image
  and category, ``"oks"`` otherwise.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from garmentcli.choices import IMAGE_PAIRINGS, PAIRINGS
from garmentcli.errors import InputError
from garmentcli.metrics.coco import KEYPOINT_PARAMS, match_predictions
from garmentcli.metrics.instances import FLD_WIDTH, Instances
from garmentcli.metrics.similarity import oks_pairs
from garmentcli.schema.layout import DF2

FLD_SIGMA = float(np.mean(DF2.oks_sigmas))
"""FLD has no published OKS sigmas: pairing FLD garments uses the mean DeepFashion2 sigma for all 8 slots."""
_ANY_OVERLAP = np.array([np.finfo(np.float64).tiny])


def _id_keys(inst: Instances) -> np.ndarray:
    return inst.image_id.astype(np.int64) * (2**31) + inst.ann_id


def _same_annotation(gt: Instances, pred: Instances) -> bool:
    """Whether every prediction names (image id, annotation id) of a ground-truth garment of its own category."""
    if not pred.has_ids or len(pred) == 0 or len(gt) == 0:
        return False
    gt_keys, pred_keys = _id_keys(gt), _id_keys(pred)
    order = np.argsort(gt_keys, kind="stable")
    at = np.minimum(np.searchsorted(gt_keys[order], pred_keys), len(gt) - 1)
    rows = order[at]
    return bool(np.all(gt_keys[rows] == pred_keys) and np.all(gt.category_id[rows] == pred.category_id))


def resolve_pairing(gt: Instances, pred: Instances, pairing: str) -> str:
    """The pairing rule to use (``"auto"`` resolved)."""
    if pairing not in PAIRINGS:
        raise InputError(f"unknown pairing {pairing!r} (choose from {', '.join(PAIRINGS)})")
    if pairing != "auto":
        return pairing
    return "id" if _same_annotation(gt, pred) else "oks"


def pair_by_id(gt: Instances, pred: Instances) -> np.ndarray:
    """For each ground-truth row, the best-scored prediction row with its image and annotation id, or -1."""
    if not pred.has_ids:
        raise InputError("pairing by annotation id needs predictions that carry the ground-truth 'id'")
    if len(pred) == 0:
        return np.full(len(gt), -1, dtype=np.int64)
    gt_keys, pred_keys = _id_keys(gt), _id_keys(pred)
    order = np.lexsort((-pred.score, pred_keys))
    keys = pred_keys[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    best_rows, best_keys = order[first], keys[first]
    at = np.minimum(np.searchsorted(best_keys, gt_keys), len(best_keys) - 1)
    return np.where(best_keys[at] == gt_keys, best_rows[at], -1)


def pair_by_oks(gt: Instances, pred: Instances) -> np.ndarray:
    """For each ground-truth row, the prediction the keypoint-AP matching gives it at any OKS > 0, or -1."""
    if gt.keypoints is None or pred.keypoints is None or len(pred) == 0:
        return np.full(len(gt), -1, dtype=np.int64)
    width = gt.keypoints.shape[1]
    sigmas = np.full(width, FLD_SIGMA) if width == FLD_WIDTH else DF2.oks_sigmas
    ignored = (gt.iscrowd | (gt.num_keypoints == 0))[:, None]

    def similarity(p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return oks_pairs(pred.keypoints, gt.keypoints, gt.bbox, gt.area, sigmas, p, g)

    found = match_predictions(gt, pred, similarity, ignored, _ANY_OVERLAP, KEYPOINT_PARAMS.max_dets[-1])
    gt_row = found.gt_match[:, 0, 0]
    paired = np.full(len(gt), -1, dtype=np.int64)
    hit = gt_row >= 0
    paired[gt_row[hit]] = found.pred_rows[hit]
    return paired


def pair(gt: Instances, pred: Instances, pairing: str = "auto") -> tuple[np.ndarray, str]:
    """``(prediction row per ground-truth row or -1, the rule used)``."""
    rule = resolve_pairing(gt, pred, pairing)
    return (pair_by_id(gt, pred) if rule == "id" else pair_by_oks(gt, pred)), rule


@dataclass
class ImagePairing:
    """How prediction images were paired with ground-truth images (:func:`pair_images`)."""

    rule: str
    """``"name"`` or ``"id"``."""
    disagreements: list[tuple[str, int, str | None]] = field(default_factory=list)
    """``(prediction file name, its image id, the ground-truth name that id has)`` for each prediction
    image that pairing by name and pairing by id would give different ground truth (None: no image)."""
    images: int = 0
    """Prediction images with a file name."""
    unmatched: int = 0
    """Prediction images whose name is no ground-truth image's (with ``"name"``: left out)."""


def _name_keys(gt_names: dict[int, str], pred_names: dict[int, str]) -> dict[int, int]:
    """prediction image id -> ground-truth image id by file name: equal names, or one under a folder prefix
    of the other (the prefix that pairs the most names, then the shortest)."""
    by_base: dict[str, list[str]] = defaultdict(list)
    for name in gt_names.values():
        by_base[posixpath.basename(name)].append(name)
    votes: Counter[tuple[str, str]] = Counter()
    for name in pred_names.values():
        for other in by_base.get(posixpath.basename(name), ()):
            if name == other:
                votes["pred", ""] += 1
            elif name.endswith("/" + other):
                votes["pred", name[: len(name) - len(other)]] += 1
            elif other.endswith("/" + name):
                votes["gt", other[: len(other) - len(name)]] += 1
    if not votes:
        return {}
    side, prefix = max(votes, key=lambda key: (votes[key], -len(key[1])))
    gt_ids = {name: image_id for image_id, name in sorted(gt_names.items(), reverse=True)}  # first id wins
    pairs = {}
    for image_id, name in pred_names.items():
        if side == "pred" and not name.startswith(prefix):
            continue
        key = name[len(prefix) :] if side == "pred" else prefix + name
        if key in gt_ids:
            pairs[image_id] = gt_ids[key]
    return pairs


def _renumbered(inst: Instances, new_ids: dict[int, int]) -> Instances:
    old = np.array(sorted(new_ids), dtype=np.int64)
    new = np.array([new_ids[i] for i in old.tolist()], dtype=np.int64)

    def remap(values: np.ndarray) -> np.ndarray:
        if values.size == 0 or old.size == 0:
            return values
        at = np.minimum(np.searchsorted(old, values), len(old) - 1)
        return np.where(old[at] == values, new[at], values)

    return dataclasses.replace(
        inst,
        image_ids=np.unique(remap(inst.image_ids)),
        image_id=remap(inst.image_id),
        image_size={new_ids.get(k, k): v for k, v in inst.image_size.items()},
        image_names={new_ids.get(k, k): v for k, v in inst.image_names.items()},
    )


def pair_images(gt: Instances, pred: Instances, rule: str = "auto") -> tuple[Instances, ImagePairing]:
    """The predictions with image ids that name their ground-truth images, and how they were paired.

    ``"id"``, or either side without file names: the ids as they are. ``"name"``: each prediction
    image takes the id of the ground-truth image of its name; images without one get ids no
    ground-truth image has (they are left out). ``"auto"``: by name, which must agree with the ids;
    :class:`InputError` when it does not (see :attr:`ImagePairing.disagreements`).
    """
    if rule not in IMAGE_PAIRINGS:
        raise InputError(f"unknown image pairing {rule!r} (choose from {', '.join(IMAGE_PAIRINGS)})")
    if rule == "id" or not gt.image_names or not pred.image_names:
        return pred, ImagePairing("id")
    pairs = _name_keys(gt.image_names, pred.image_names)
    gt_ids = set(gt.image_ids.tolist())
    report = ImagePairing("name", images=len(pred.image_names), unmatched=len(pred.image_names) - len(pairs))
    for image_id, name in sorted(pred.image_names.items()):
        by_name = pairs.get(image_id)
        if by_name != image_id and (by_name is not None or image_id in gt_ids):
            report.disagreements.append((name, image_id, gt.image_names.get(image_id)))
    if rule == "auto" and report.disagreements:
        name, image_id, other = report.disagreements[0]
        by_id = f"ground truth {other!r}" if other else "no ground-truth image"
        raise InputError(
            f"{len(report.disagreements)} of {report.images} prediction images pair with other ground truth by "
            f"file name than by image id (e.g. {name!r}, image id {image_id}: by id {by_id}); "
            "give --pair-by name to pair by file name or --pair-by id to pair by image id"
        )
    if not report.disagreements:
        return pred, report
    fresh = iter(range(max([*gt_ids, *pred.image_names, *pred.image_ids.tolist()], default=0) + 1, 1 << 62))
    new_ids = {image_id: pairs[image_id] if image_id in pairs else next(fresh) for image_id in pred.image_names}
    return _renumbered(pred, new_ids), report
