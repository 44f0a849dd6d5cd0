"""``garmentkp measure --report sizes.html [--truth TRUTH]``: the measurements as one self-contained HTML page.

Sections (elements with fixed ``id``): ``summary`` (garments, calibration, flags, and per
measurement its count and spread), ``values`` (a histogram per measurement), and with ``--truth``
``errors`` (per measurement: paired count, median and 95th-percentile absolute error, bias, values
missing where the truth has one; a histogram of the signed errors per measurement and measured
against true values), from :mod:`garmentcli.measure.compare`. The figures shown are embedded as
JSON (``<script type="application/json" id="measure-result">``); the page fetches nothing, as
the eval report (:mod:`garmentcli.viz.report`, whose page and tables it shares).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from garmentcli.measure.compare import MeasurementErrors, TrueGarment, measurement_errors
from garmentcli.measure.runner import GarmentMeasurements
from garmentcli.viz.report import Provenance, command_line, numbers_table, page, recorded_run


def measured_values(rows: Sequence[GarmentMeasurements], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Per measurement (in the order of ``names``, those with any value), its values in cm."""
    values: dict[str, list[float]] = {n: [] for n in names}
    for row in rows:
        for name, found in row.values.items():
            if found.value is not None:
                values.setdefault(name, []).append(found.value)
    return {n: np.asarray(v, dtype=float) for n, v in values.items() if v}


def flag_kind(flag: str, names: Sequence[str]) -> str:
    """What a flag says, without the numbers and the measurement it names (for counting flags by kind):
    ``"sleeve_length: occluded landmarks"`` -> ``"occluded landmarks"``, ``"photo is 22° oblique: …"`` ->
    ``"photo is N° oblique"``."""
    head, _, rest = flag.partition(": ")
    text = rest if head in names and rest else head
    return re.sub(r"\d+(\.\d+)?", "N", text)


def value_summary(values: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "count": int(v.size),
            "median_cm": float(np.median(v)),
            "min_cm": float(v.min()),
            "max_cm": float(v.max()),
        }
        for name, v in values.items()
    }


def centimetres(metric: str, value: float) -> str:
    """Counts as integers, centimetres with 2 decimals, '-' where undefined (-1)."""
    if metric in ("count", "missing"):
        return str(int(value))
    return "-" if value == -1 else f"{value:.2f}"


def _figure(svg: str, caption: str, kind: str) -> str:
    return f'<figure class="plot" data-plot="{kind}">{svg}<figcaption>{caption}</figcaption></figure>'


def measure_report(
    rows: Sequence[GarmentMeasurements],
    names: Sequence[str],
    provenance: Provenance,
    errors: MeasurementErrors | None = None,
) -> str:
    """The page for ``rows`` (every garment measured), with the comparison with the truth when given."""
    from garmentcli.viz.plots import histograms, scatter_truth

    values = measured_values(rows, names)
    summary = value_summary(values)
    calibrated = sum(1 for r in rows if r.calibration is not None)
    images = len({r.image for r in rows})
    flags = Counter(flag_kind(flag, names) for r in rows for flag in r.flags)
    data: dict[str, Any] = {
        "garments": len(rows),
        "images": images,
        "calibrated": calibrated,
        "flags": dict(flags),
        "measurements": summary,
    }
    notes = [f"{len(rows)} garments on {images} images; {calibrated} on calibrated images."]
    if flags:
        notes.append("Flags, by kind: " + "; ".join(f"{k} ({v})" for k, v in flags.most_common()) + ".")
    table = numbers_table(
        "Measured values (cm)",
        "measurements",
        list(summary.items()),
        ["count", "median_cm", "min_cm", "max_cm"],
        centimetres,
    )
    sections = [
        ("summary", "Summary", table + "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)),
        (
            "values",
            "Measured values",
            _figure(
                histograms(values, "cm", "measure-values"), "Each measurement's values over all garments.", "values"
            )
            if values
            else '<p class="note">No measurement has a value.</p>',
        ),
    ]
    if errors is not None:
        figures = errors.summary()
        data["errors"] = figures
        data["pairing"] = {
            "paired": errors.paired,
            "unpaired_measured": errors.unpaired_rows,
            "unmeasured_truth": errors.unmeasured_truth,
        }
        columns = ["count", "median_abs_cm", "p95_abs_cm", "bias_cm", "missing"]
        parts = [
            numbers_table("Errors against the truth (cm)", "errors", list(figures.items()), columns, centimetres),
            f'<p class="note">{errors.paired} measured garments paired with a true one; {errors.unpaired_rows} '
            f"measured garments without one, {errors.unmeasured_truth} true garments not measured. Error = "
            "measured − true; <em>missing</em>: true values the measured garment gave no value for.</p>",
        ]
        shown = {n: e for n, e in errors.errors.items() if e.size}
        if shown:
            parts.append(
                _figure(histograms(shown, "error (cm)", "measure-errors", reference=0.0), "Signed errors.", "errors")
            )
            pairs = {n: (errors.true_values[n], errors.measured_values[n]) for n in shown}
            parts.append(_figure(scatter_truth(pairs, "measure-truth"), "Measured against true values.", "truth"))
        sections.append(("errors", "Against the truth", "".join(parts)))
    return page("garmentkp measure report", provenance, sections, data, "measure-result")


def write_measure_report(
    path: Path,
    rows: Sequence[GarmentMeasurements],
    names: Sequence[str],
    *,
    input_path: str,
    truth: Path | None = None,
    true_garments: Sequence[TrueGarment] | None = None,
    model: str | None = None,
) -> None:
    """Build the report of one ``measure`` run and write it; ``true_garments`` (read from ``truth`` by
    :func:`~garmentcli.measure.compare.read_truth`) adds the comparison."""
    from garmentcli.io.atomic import atomic_write

    inputs = [("input", input_path)]
    if truth is not None:
        inputs.append(("truth", str(truth)))
    run = recorded_run(input_path) if input_path != "-" else None
    if run is None and model is not None:
        run = {"settings": {"model": model}}
    errors = measurement_errors(rows, true_garments, names) if true_garments is not None else None
    text = measure_report(rows, names, Provenance(command=command_line(), inputs=inputs, run=run), errors)
    with atomic_write(path, "w") as handle:
        handle.write(text)
