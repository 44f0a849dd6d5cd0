"""``garmentkp models``: the bundled and cached models and their cards."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from garmentcli.cli import common
from garmentcli.models.registry import BUNDLED_DIR, cache_dir, list_models


def _headline_metrics(metrics: dict) -> str:
    """The card's numeric metrics as ``name=value`` pairs (nested test sets flattened)."""
    pairs = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            pairs += [f"{key}.{k}={v:.3f}" for k, v in value.items() if isinstance(v, int | float)]
        elif isinstance(value, int | float):
            pairs.append(f"{key}={value:.3f}")
    return ", ".join(pairs) or "-"


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the full cards as JSON on stdout.")] = False,
) -> None:
    """List the bundled models and those in the model cache ($GARMENTKP_MODEL_DIR) with their cards.

    Example: garmentkp models --json
    """
    failures = common.FailureLog()
    found = list_models(on_error=failures.add)
    if as_json:
        cards = [{**m.card.to_dict(), "origin": m.origin, "path": str(m.onnx)} for m in found]
        typer.echo(orjson.dumps(cards, option=orjson.OPT_INDENT_2).decode())
        raise typer.Exit(failures.exit_code)
    table = Table(title=f"models (bundled: {BUNDLED_DIR}, cache: {cache_dir()})")
    for column in ("name", "origin", "input", "parameters", "metrics", "path"):
        table.add_column(column)
    for m in found:
        params = f"{m.card.parameters:,}" if m.card.parameters else "-"
        table.add_row(
            m.name, m.origin, f"{m.card.input_size}px", params, _headline_metrics(m.card.metrics), str(m.onnx)
        )
    if not found:
        common.warn("no models found; train one (garmentkp train) and export it (garmentkp export)")
    else:
        Console().print(table)
    raise typer.Exit(failures.exit_code)
