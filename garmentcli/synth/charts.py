"""Size charts: real flat measurements (cm) per category and size, sampled into one garment's parameters.

The charts are data (``size_charts.json`` beside this module): per measurement the value at the
base size, the grade per size step and a spread for fit and brand variation; per category the
style ranges (sleeve angle, neckline shape, opening, flare …).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from garmentcli.errors import SchemaError
from garmentcli.schema.layout import DF2


@dataclass(frozen=True)
class SizeCharts:
    """The parsed chart file."""

    sizes: tuple[str, ...]
    size_weights: np.ndarray
    base_index: int
    measurements: dict[str, dict[str, tuple[float, float, float]]]
    styles: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class GarmentSpec:
    """One garment's generator parameters: its size, measurements (cm) and style choices."""

    category_id: int
    size: str
    measurements: dict[str, float]
    style: dict[str, float]

    def chart_cm(self) -> dict[str, Any]:
        """The ``size_chart_cm`` record written with the ground truth."""
        return {"size": self.size, **{k: round(v, 3) for k, v in self.measurements.items()}}


def parse_charts(raw: dict) -> SizeCharts:
    """Validate a chart document (the form of ``size_charts.json``)."""
    sizes = tuple(raw["sizes"])
    weights = np.asarray(raw["size_weights"], dtype=np.float64)
    if len(weights) != len(sizes) or np.any(weights < 0):
        raise SchemaError("size_charts.json: size_weights must give one weight >= 0 per size")
    missing = set(DF2.by_name) - set(raw["categories"])
    if missing:
        raise SchemaError(f"size_charts.json: no chart for {sorted(missing)}")
    measurements = {
        name: {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in entry["measurements"].items()}
        for name, entry in raw["categories"].items()
    }
    styles = {name: dict(entry.get("style", {})) for name, entry in raw["categories"].items()}
    return SizeCharts(sizes, weights / weights.sum(), sizes.index(raw["base_size"]), measurements, styles)


@cache
def bundled_charts() -> SizeCharts:
    """The charts shipped with the package, parsed once."""
    text = resources.files("garmentcli.synth").joinpath("size_charts.json").read_text("utf-8")
    return parse_charts(json.loads(text))


def _style_value(value: Any, rng: np.random.Generator) -> float:
    if isinstance(value, list):
        return float(rng.uniform(value[0], value[1]))
    return float(value)


def sample_spec(category_id: int, rng: np.random.Generator, charts: SizeCharts | None = None) -> GarmentSpec:
    """Draw a size, then each measurement from the chart around that size, and the style parameters."""
    charts = charts or bundled_charts()
    name = DF2.category(category_id).name
    size_index = int(rng.choice(len(charts.sizes), p=charts.size_weights))
    steps = size_index - charts.base_index
    measurements = {
        key: float(base + grade * steps + spread * np.clip(rng.standard_normal(), -2.5, 2.5))
        for key, (base, grade, spread) in charts.measurements[name].items()
    }
    style = {key: _style_value(value, rng) for key, value in charts.styles[name].items()}
    return GarmentSpec(category_id, charts.sizes[size_index], measurements, style)
