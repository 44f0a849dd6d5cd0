"""``garmentkp bench``: images/s and per-stage latency of ``detect`` for each backend and batch size."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from garmentcli.choices import DEFAULT_MODEL
from garmentcli.cli import common
from garmentcli.errors import GarmentError

if TYPE_CHECKING:
    from rich.table import Table

    from garmentcli.runtime.bench import BenchResult


def _table(results: list[BenchResult]) -> Table:
    from rich.table import Table

    from garmentcli.runtime.timing import STAGES

    table = Table(title="garmentkp detect throughput (decode/preprocess run in threads, overlapping inference)")
    for column in ("model", "backend", "device", "batch", "images", "images/s", "cpu ms", *(f"{s} ms" for s in STAGES)):
        table.add_column(column, justify="right", no_wrap=column == "model")
    for r in results:
        table.add_row(
            r.model,
            r.backend,
            r.device,
            str(r.batch_size),
            str(r.images),
            f"{r.images_per_s:.1f}",
            f"{1000 * r.cpu_seconds / r.images:.1f}",
            *(f"{r.stage_ms[s]:.2f}" for s in STAGES),
        )
    return table


def bench(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Images to run on (default: generated JPEGs, see --images/--size).")
    ] = None,
    model: Annotated[str, typer.Option(help="Bundled model name, cached model name, or path.")] = DEFAULT_MODEL,
    backend: Annotated[
        list[common.BackendName], typer.Option(help="Backend(s) to measure (repeat the option).")
    ] = [common.ONNX],  # noqa: B006
    batch_size: Annotated[list[int], typer.Option(help="Batch size(s) to measure (repeat the option).")] = [1, 8],  # noqa: B006
    device: Annotated[common.DeviceName, typer.Option(help="Where the network runs.")] = common.CPU,
    precision: Annotated[common.PrecisionName, typer.Option(help=common.PRECISION_HELP)] = common.AUTO,
    images: Annotated[int, typer.Option(min=1, help="Generated images when no SOURCES are given.")] = 200,
    size: Annotated[int, typer.Option(min=32, help="Side of the generated JPEGs.")] = 512,
    score_thr: Annotated[float, typer.Option(min=0.0, max=1.0, help="Decoding score threshold.")] = 0.2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
) -> None:
    """Measure detect's throughput: images/s end to end and milliseconds per image in each stage.

    Example: garmentkp bench --backend onnx --backend torch --batch-size 1 --batch-size 8
    """
    import orjson
    from rich.console import Console

    from garmentcli.io.sources import expand_sources
    from garmentcli.models.codec import DecodeOptions
    from garmentcli.models.registry import resolve_model
    from garmentcli.runtime.bench import benchmark, write_test_images

    resolved = [(b, resolve_model(common.with_precision(model, precision, b, device))) for b in backend]
    options = DecodeOptions(score_thr=score_thr)
    failures = common.FailureLog()
    results = []
    with tempfile.TemporaryDirectory(prefix="garmentkp-bench-") as tmp:
        found = expand_sources(sources) if sources else write_test_images(Path(tmp), images, size)
        for name, files in resolved:
            for batch in batch_size:
                try:
                    results.append(benchmark(files, found, name.value, batch, device.value, options))
                except GarmentError as exc:
                    failures.add(f"{name.value} (batch {batch}): {exc}")
    if as_json:
        typer.echo(orjson.dumps([r.to_dict() for r in results], option=orjson.OPT_INDENT_2).decode())
    else:
        Console(width=max(Console().width, 130)).print(_table(results))  # ten columns: never squeeze them
    raise typer.Exit(failures.exit_code)
