"""Landmark visibility as the tool stores it, and the one other numeric convention a schema brings (FLD's).

Ground truth carries COCO's (and DeepFashion2's) flags: :data:`VISIBLE` 2, :data:`OCCLUDED` 1 (labelled,
hidden), :data:`UNLABELLED` 0 (not labelled, or outside the image). FLD's ``list_landmarks.txt``
numbers them the other way round (:data:`FLD_CODES`). Translating between formats is
:mod:`garmentcli.io.visibility`'s job; every module that needs a flag takes it from here.
"""

from __future__ import annotations

VISIBLE, OCCLUDED, UNLABELLED = 2, 1, 0
"""The canonical flags (COCO's values)."""

FLD_CODES: dict[int, int] = {VISIBLE: 0, OCCLUDED: 1, UNLABELLED: 2}
"""Canonical flag -> FLD's code: 0 visible, 1 occluded, 2 truncated (not labelled)."""
