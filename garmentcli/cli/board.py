"""``garmentkp board``: a printable ArUco marker board at true size, and its layout file for ``measure --board``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from garmentcli.choices import PAPER_CM
from garmentcli.cli import common
from garmentcli.errors import InputError

Paper = common.choices("Paper", [*PAPER_CM, "none"])
A4 = Paper("a4")


def _size_pair(text: str, option: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise InputError(f"{option} {text!r}: expected AxB, e.g. 120x80") from exc
    if first <= 0 or second <= 0:
        raise InputError(f"{option} {text!r}: both sizes must be positive")
    return first, second


def board(
    output: Annotated[Path, typer.Option("--output", "-o", help="Printable board: .pdf or .png.")],
    table: Annotated[
        str | None,
        typer.Option(help="Table size WxH in cm: four markers in its corners, one page each (tape them down)."),
    ] = None,
    grid: Annotated[
        str | None, typer.Option(help="COLSxROWS markers on one sheet (a mat to lay garments on or beside).")
    ] = None,
    marker_cm: Annotated[float, typer.Option("--marker-cm", help="Side of each marker's black square, cm.")] = 8.0,
    gap_cm: Annotated[float, typer.Option("--gap-cm", help="Gap between grid markers, cm.")] = 2.0,
    margin_cm: Annotated[float, typer.Option("--margin-cm", help="Corner markers' inset from the edge.")] = 1.0,
    dictionary: Annotated[str, typer.Option(help="ArUco dictionary, e.g. 4x4_50, 5x5_100, apriltag_36h11.")] = "4x4_50",
    first_id: Annotated[int, typer.Option("--first-id", min=0, help="Id of the first marker.")] = 0,
    dpi: Annotated[float, typer.Option(min=72, help="Print resolution.")] = 300.0,
    layout: Annotated[
        Path | None, typer.Option(help="Layout JSON to write (default: the output name with .json).")
    ] = None,
    paper: Annotated[
        Paper, typer.Option(help="Paper every page must fit on (none: any size, for a plotter or print shop).")
    ] = A4,
) -> None:
    """Write a marker board to print at 100 % and its layout file for `garmentkp measure --board`.

    Printers scale: measure the printed markers; if they are not MARKER_CM, fix the layout's corners
    (or print again). Example: garmentkp board --table 120x80 -o table.pdf
    """
    from garmentcli.measure.board import BoardLayout
    from garmentcli.measure.printing import board_pages, check_paper, save_pages

    if (table is None) == (grid is None):
        raise InputError("give exactly one of --table WxH or --grid COLSxROWS")
    if marker_cm <= 0:
        raise InputError(f"--marker-cm must be positive, got {marker_cm}")
    if table is not None:
        width, height = _size_pair(table, "--table")
        made = BoardLayout.table_corners(width, height, marker_cm, dictionary, first_id, margin_cm)
    else:
        cols, rows = _size_pair(grid or "", "--grid")
        if cols != int(cols) or rows != int(rows):
            raise InputError(f"--grid {grid!r}: expected whole numbers, e.g. 2x3")
        made = BoardLayout.grid(int(cols), int(rows), marker_cm, gap_cm, dictionary, first_id)
    layout_path = layout or output.with_suffix(".json")
    pages = board_pages(made, dpi, separate=table is not None)
    check_paper(pages, dpi, paper.value)
    with common.writing("board", output, layout_path):
        written = save_pages(pages, output, dpi)
        made.save(layout_path)
    common.info(f"board: {', '.join(map(str, written))}; layout: {layout_path}")
