"""``garmentkp models``: the bundled and cached models and their cards."""

from __future__ import annotations

from typing import Annotated

import typer

from garmentcli.cli import common


def _figure(value: object) -> str:
    """A card number as people read it: whole numbers without decimals, others to 3 places."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,}" if isinstance(value, int) or float(value).is_integer() else f"{value:.3f}"


def headline(metrics: dict) -> tuple[str, str, str]:
    """``(keypoint AP, box AP, test set)`` of the card's first test set that has them (``-`` where none)."""
    for name, figures in metrics.items():
        if not isinstance(figures, dict):
            continue
        keypoints, boxes = figures.get("keypoints") or {}, figures.get("bbox") or {}
        if "AP" in keypoints or "AP" in boxes:
            images = figures.get("images")
            described = f"{name} ({_figure(images)} images)" if images is not None else name
            return _figure(keypoints.get("AP")), _figure(boxes.get("AP")), described
    return "-", "-", "-"


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the full cards as JSON on stdout.")] = False,
) -> None:
    """List the bundled models and those in the model cache ($GARMENTKP_MODEL_DIR) with their cards.

    Example: garmentkp models --json
    """
    import orjson
    from rich.console import Console
    from rich.table import Table

    from garmentcli.models.registry import BUNDLED_DIR, cache_dir, list_models

    failures = common.FailureLog()
    found = list_models(on_error=failures.add)
    if as_json:
        cards = [{**m.card.to_dict(), "origin": m.origin, "path": str(m.onnx)} for m in found]
        typer.echo(orjson.dumps(cards, option=orjson.OPT_INDENT_2).decode())
        raise typer.Exit(failures.exit_code)
    table = Table(title=f"models (bundled: {BUNDLED_DIR}, cache: {cache_dir()})")
    for column in ("name", "origin", "input", "parameters", "keypoint AP", "box AP", "test set", "path"):
        table.add_column(column, justify="right" if column.endswith("AP") or column == "parameters" else "left")
    for m in found:
        params = _figure(m.card.parameters) if m.card.parameters else "-"
        table.add_row(m.name, m.origin, m.card.input_text, params, *headline(m.card.metrics), str(m.onnx))
    if not found:
        common.warn("no models found; train one (garmentkp train) and export it (garmentkp export)")
    else:
        Console(width=max(Console().width, 150)).print(table)  # eight columns: never squeeze the figures away
    raise typer.Exit(failures.exit_code)
