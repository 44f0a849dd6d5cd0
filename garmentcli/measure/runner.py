"""Measure every garment of an image: landmarks (pixels) -> table plane (cm) -> named measurements.

:func:`measure_record` is the library call behind ``garmentkp measure``; it takes one image's
record and the :class:`~garmentcli.measure.calibration.Calibration` of that image, and returns one
:class:`GarmentMeasurements` per garment, each knowing which calibration it used and why any
measurement is empty or flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from garmentcli.choices import MIN_CONFIDENCE
from garmentcli.io.visibility import canonical_flags
from garmentcli.measure.calibration import Calibration
from garmentcli.measure.definitions import MISSING, Definitions, Measurement, measure_garment
from garmentcli.schema.records import Garment, ImageRecord


@dataclass
class GarmentMeasurements:
    """One garment's measurements, the calibration behind them, and its flags."""

    image: str
    index: int
    """Position of the garment in its image (0-based)."""
    garment: Garment
    calibration: Calibration | None
    """``None`` when the image could not be calibrated (then every value is empty)."""
    values: dict[str, Measurement] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def garment_states(garment: Garment, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """Missing / occluded / visible per landmark: ground-truth flags, or thresholded prediction confidences."""
    states = canonical_flags(garment)
    if garment.score is not None:
        states[garment.landmarks[:, 2] < min_confidence] = MISSING
    return states


def measure_record(
    record: ImageRecord,
    calibration: Calibration | None,
    definitions: Definitions,
    min_confidence: float = MIN_CONFIDENCE,
    failure: str = "",
) -> list[GarmentMeasurements]:
    """Measure every garment of ``record`` with ``calibration`` (``None`` + ``failure``: rows with empty values)."""
    results = []
    image_flags = list(calibration.warnings) if calibration else [f"not calibrated: {failure}"]
    for index, garment in enumerate(record.garments):
        result = GarmentMeasurements(record.file_name, index, garment, calibration, flags=list(image_flags))
        if calibration is not None:
            points = calibration.to_plane(garment.landmarks[:, :2])
            states = garment_states(garment, min_confidence)
            result.values = measure_garment(garment.category_id, points, states, definitions)
            result.flags += [f"{name}: {m.reason}" for name, m in result.values.items() if m.reason]
        results.append(result)
    return results
