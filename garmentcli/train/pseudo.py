"""Self-training: a teacher model's confident garments on weakly-labelled photos become full training targets.

For every weakly-labelled photo that shows a garment, the teacher's best detection whose category
the photo allows is adopted when it scores at least ``min_score``: the photo then trains boxes and
landmarks like an annotated image (its landmarks labelled where the teacher is at least
``min_landmark_score`` sure, unlabelled elsewhere). Photos without such a detection, and the hard
negatives, stay weakly labelled. The teacher runs through the same :class:`Predictor` as ``detect``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from garmentcli.io.sources import ImageSource
from garmentcli.schema.records import Garment, ImageRecord
from garmentcli.schema.visibility import UNLABELLED, VISIBLE
from garmentcli.train.data import Sample

MIN_SCORE = 0.5
"""A teacher detection at least this confident (and of an allowed category) becomes a target."""

MIN_LANDMARK_SCORE = 0.3
"""A teacher landmark at least this confident is labelled; the others are left out of the loss."""


def adopt_teacher(
    record: ImageRecord, allowed: frozenset[int], min_score: float, min_landmark_score: float
) -> Garment | None:
    """The teacher's best allowed garment on one photo as a training garment, or None when none is sure enough."""
    candidates = [g for g in record.garments if g.category_id in allowed and (g.score or 0.0) >= min_score]
    if not candidates:
        return None
    best = max(candidates, key=lambda g: g.score or 0.0)
    landmarks = best.landmarks.copy()
    sure = landmarks[:, 2] >= min_landmark_score
    landmarks[:, 2] = np.where(sure, VISIBLE, UNLABELLED)
    landmarks[~sure, :2] = 0.0
    return Garment(best.category_id, best.bbox.copy(), landmarks, id=1)


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
