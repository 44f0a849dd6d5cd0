"""Self-training: a teacher model's confident garments on weakly-labelled photos become full training targets.

For every weakly-labelled photo that shows a garment, the teacher must be sure *where* the garment
is: its best detection of any category scores at least ``min_score``. Of the detections of a
category the photo allows that overlap that one (box IoU >= ``SAME_GARMENT_IOU``), the most
confident is adopted: the photo then trains boxes and landmarks like an annotated image (its
landmarks labelled where the teacher is at least ``min_landmark_score`` sure, unlabelled
elsewhere). So a teacher whose boxes are good but whose categories are not (a model trained on
synthetic flat-lays only) still teaches boxes, and the photo's label picks the category. Photos
without such detections, and the hard negatives, stay weakly labelled. The teacher runs through
the same :class:`Predictor` as ``detect`` (with a low score threshold, so that the allowed
categories' weaker detections are seen).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from garmentcli.io.sources import ImageSource
from garmentcli.metrics.similarity import box_iou_pairs
from garmentcli.schema.records import Garment, ImageRecord
from garmentcli.schema.visibility import UNLABELLED, VISIBLE
from garmentcli.train.data import Sample

MIN_SCORE = 0.5
"""The teacher's best detection must be at least this confident for the photo to get targets."""

TEACHER_SCORE_FLOOR = 0.05
"""The teacher reports detections down to this score, so that weaker allowed-category ones are seen."""

SAME_GARMENT_IOU = 0.5
"""An allowed-category detection overlapping the best one this much is taken as the same garment."""

MIN_LANDMARK_SCORE = 0.3
"""A teacher landmark at least this confident is labelled; the others are left out of the loss."""


def adopt_teacher(
    record: ImageRecord, allowed: frozenset[int], min_score: float, min_landmark_score: float
) -> Garment | None:
    """The teacher's garment on one photo as a training garment of an allowed category, or None (module doc)."""
    if not record.garments:
        return None
    anchor = max(record.garments, key=lambda g: g.score or 0.0)
    if (anchor.score or 0.0) < min_score:
        return None
    candidates = [g for g in record.garments if g.category_id in allowed]
    if not candidates:
        return None
    boxes = np.array([g.bbox for g in candidates], dtype=np.float64)
    overlap = box_iou_pairs(boxes, np.asarray(anchor.bbox, dtype=np.float64)[None, :], np.zeros(1, dtype=bool))
    same = [g for g, iou in zip(candidates, overlap, strict=True) if iou >= SAME_GARMENT_IOU]
    if not same:
        return None
    best = max(same, key=lambda g: g.score or 0.0)
    landmarks = best.landmarks.copy()
    sure = landmarks[:, 2] >= min_landmark_score
    landmarks[:, 2] = np.where(sure, VISIBLE, UNLABELLED)
    landmarks[~sure, :2] = 0.0
    return Garment(best.category_id, best.bbox.copy(), landmarks, id=1)


def teacher_predictor(model: str) -> Any:
    """A teacher model's :class:`~garmentcli.runtime.predictor.Predictor`, reporting down to ``TEACHER_SCORE_FLOOR``."""
    from garmentcli.models.codec import DecodeOptions
    from garmentcli.runtime.predictor import Predictor

    return Predictor(model, options=DecodeOptions(score_thr=TEACHER_SCORE_FLOOR, max_dets=50))


def pseudo_label(
    samples: Sequence[Sample],
    teacher: Any,
    min_score: float = MIN_SCORE,
    min_landmark_score: float = MIN_LANDMARK_SCORE,
) -> tuple[list[Sample], int]:
    """``samples`` with the weakly-labelled photos the teacher is sure of turned into annotated ones.

    ``teacher`` is a :class:`~garmentcli.runtime.predictor.Predictor`. Returns the samples (same order)
    and how many photos were adopted.
    """
    photos = [i for i, s in enumerate(samples) if s.weak and s.allowed]
    sources = [ImageSource(samples[i].path, samples[i].record.file_name) for i in photos]
    ids = [samples[i].record.id for i in photos]
    found = {record.file_name: record for record in teacher.predict_sources(sources, ids=ids, on_error=lambda *_: None)}
    out = list(samples)
    adopted = 0
    for i in photos:
        sample = samples[i]
        record = found.get(sample.record.file_name)
        garment = None if record is None else adopt_teacher(record, sample.allowed, min_score, min_landmark_score)
        if garment is not None:
            annotated = dataclasses.replace(sample.record, width=record.width, height=record.height, garments=[garment])
            out[i] = Sample(sample.path, annotated)
            adopted += 1
    return out, adopted
