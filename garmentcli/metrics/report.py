"""The result of :func:`~garmentcli.metrics.evaluate` as flat rows and tables: what the CLI prints and writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SECTIONS = {"keypoints": "Keypoint {} (DeepFashion2, OKS)", "bbox": "Box {} (COCO)", "landmarks": "Landmarks"}
GROUPS = (("per_category", "category"), ("by_attribute", "attribute"))
CSV_HEADER = ("section", "group", "name", "metric", "value")


def section_tables(result: dict[str, Any]) -> Iterator[tuple[str, list[str], list[tuple[str, dict[str, float]]]]]:
    """Tables to print: ``(title, metric names, rows)``, a row being ``(label, {metric: value})``.

    COCO sections give two tables (precision, recall) so that each fits a terminal.
    """
    for section, title in SECTIONS.items():
        numbers = result.get(section)
        if numbers is None:
            continue
        overall = {k: v for k, v in numbers.items() if isinstance(v, float)}
        rows = [("all", overall)]
        for key, _ in GROUPS:
            rows += list(numbers.get(key, {}).items())
        if section == "landmarks":
            yield title, list(overall), rows
            continue
        for prefix in ("AP", "AR"):
            yield title.format(prefix), [m for m in overall if m.startswith(prefix)], rows


def csv_rows(result: dict[str, Any]) -> Iterator[tuple[str, str, str, str, float]]:
    """Long-form rows ``(section, group, name, metric, value)``: group is overall, category or attribute."""
    for section in SECTIONS:
        numbers = result.get(section)
        if numbers is None:
            continue
        for metric, value in numbers.items():
            if isinstance(value, float):
                yield section, "overall", "all", metric, value
        for key, group in GROUPS:
            for name, values in numbers.get(key, {}).items():
                for metric, value in values.items():
                    yield section, group, name, metric, value


def format_value(metric: str, value: float) -> str:
    """AP-like numbers with 3 decimals, pixel errors with 2, normalised errors with 4; '-' where undefined."""
    if value == -1:
        return "-"
    if metric == "EPE":
        return f"{value:.2f}"
    if metric.startswith("NE"):
        return f"{value:.4f}"
    return f"{value:.3f}"
