"""``garmentkp synth``: generate annotated flat-lay garment photos (DeepFashion2 layout + COCO)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from garmentcli.cli import common
from garmentcli.errors import InputError, SchemaError
from garmentcli.schema.layout import DF2
from garmentcli.synth.markers import MarkerSpec
from garmentcli.synth.scene import SynthConfig, board_layout
from garmentcli.synth.writer import write_dataset


def parse_categories(values: list[str] | None) -> tuple[int, ...]:
    """Category names or ids, repeated or comma-separated; all 13 when empty."""
    if not values:
        return tuple(DF2.ids)
    chosen: list[int] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                category = DF2.category(int(part) if part.isdigit() else part)
            except SchemaError as exc:
                raise InputError(f"--categories: {exc}") from None
            if category.id not in chosen:
                chosen.append(category.id)
    if not chosen:
        raise InputError("--categories: no category given")
    return tuple(chosen)


def synth(
    out: Annotated[
        Path, typer.Argument(help="Output folder: image/, annos/, coco.json (and board.json with --board).")
    ],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Number of images.")] = 100,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: the same seed gives the same bytes.")] = 0,
    size: Annotated[int, typer.Option(min=64, max=4096, help="Image side in pixels (square images).")] = 512,
    categories: Annotated[
        list[str] | None,
        typer.Option("--categories", "-c", help="Category names or ids (comma-separated or repeated)."),
    ] = None,
    marker: Annotated[
        str | None, typer.Option(help="Lay one ArUco marker beside the garments, e.g. aruco:4x4_50:0:8cm.")
    ] = None,
    board: Annotated[
        bool, typer.Option("--board", help="Use a marked table: four markers near its corners (layout in board.json).")
    ] = False,
    tilt_max: Annotated[
        float, typer.Option("--tilt-max", min=0.0, max=60.0, help="Largest camera tilt, degrees.")
    ] = 30.0,
    max_garments: Annotated[int, typer.Option("--max-garments", min=1, max=4, help="Most garments per image.")] = 3,
    workers: Annotated[int, typer.Option(min=0, help="Worker processes (0: one per CPU core).")] = 0,
    clean: Annotated[bool, typer.Option("--clean", help="No lighting changes, blur, noise or JPEG loss.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep images already in OUT and make only the missing ones.")
    ] = False,
) -> None:
    """Generate annotated flat-lay garment photos with true landmarks, visibility and measurements in cm.

    Example: garmentkp synth data/train --count 20000 --seed 1 --marker aruco:4x4_50:0:8cm
    """
    spec = MarkerSpec.parse(marker) if marker else None
    config = SynthConfig(
        seed=seed,
        size=size,
        categories=parse_categories(categories),
        max_garments=max_garments,
        tilt_max_deg=tilt_max,
        marker=None if board else spec,
        board=board_layout(spec) if board else None,
        photo_effects=not clean,
    )
    workers = workers or max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    failures = common.FailureLog()
    with common.writing("synth", out), common.make_progress() as progress:
        task = progress.add_task("synth", total=count)
        summary = write_dataset(out, config, count, workers, resume, lambda n: progress.advance(task, n), failures.add)
    resumed = f", {summary.skipped} kept from before" if summary.skipped else ""
    common.info(f"wrote {summary.written} images to {out}{resumed}; {len(failures)} failed")
    raise typer.Exit(failures.exit_code)
