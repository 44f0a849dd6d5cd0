"""Measurement rows out: CSV (one row per garment, a column per measurement) or a JSON list, streamed.

Both writers take rows as they come, so ``garmentkp measure -`` answers image by image in a
pipeline. CSV columns: ``image, garment, garment_id, category, score, <measurement>_cm ...,
calibration, px_per_cm, tilt_deg, flags`` (flags joined by ``; ``).
"""

from __future__ import annotations

import csv
from typing import IO, Any

import orjson

from garmentcli.measure.runner import GarmentMeasurements


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def row_dict(row: GarmentMeasurements) -> dict[str, Any]:
    """One garment as plain values (the JSON form)."""
    garment, calibration = row.garment, row.calibration
    return {
        "image": row.image,
        "garment": row.index,
        "garment_id": garment.id,
        "category": garment.category.name,
        "score": _rounded(garment.score, 4),
        "measurements_cm": {name: _rounded(m.value, 2) for name, m in row.values.items()},
        "calibration": calibration.describe() if calibration else "none",
        "px_per_cm": _rounded(calibration.px_per_cm, 4) if calibration else None,
        "tilt_deg": _rounded(calibration.tilt_deg, 1) if calibration and calibration.tilt_deg is not None else None,
        "flags": row.flags,
    }


class CsvRows:
    """Writes the header once, then one row per garment; ``names`` fixes the measurement columns."""

    def __init__(self, handle: IO[str], names: list[str]) -> None:
        self.names = names
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow(
            ["image", "garment", "garment_id", "category", "score"]
            + [f"{n}_cm" for n in names]
            + ["calibration", "px_per_cm", "tilt_deg", "flags"]
        )
        self.handle = handle

    def write(self, row: GarmentMeasurements) -> None:
        data = row_dict(row)
        cells = [data["image"], data["garment"], data["garment_id"], data["category"], data["score"]]
        cells += [data["measurements_cm"].get(n) for n in self.names]
        cells += [data["calibration"], data["px_per_cm"], data["tilt_deg"], "; ".join(data["flags"])]
        self.writer.writerow(["" if c is None else c for c in cells])
        self.handle.flush()

    def close(self) -> None:
        self.handle.flush()


class JsonRows:
    """A JSON list written item by item (``[`` first, ``]`` on close).

    ``names`` is accepted for the same signature as :class:`CsvRows`; each JSON item carries its
    own category's measurements.
    """

    def __init__(self, handle: IO[str], names: list[str]) -> None:
        del names
        self.handle = handle
        self.count = 0
        handle.write("[")

    def write(self, row: GarmentMeasurements) -> None:
        self.handle.write(("," if self.count else "") + "\n" + orjson.dumps(row_dict(row)).decode())
        self.count += 1
        self.handle.flush()

    def close(self) -> None:
        self.handle.write("\n]\n")
        self.handle.flush()
