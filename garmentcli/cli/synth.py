"""``garmentkp synth``: generate annotated garment photos (DeepFashion2 layout + COCO)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from garmentcli.cli import common
from garmentcli.errors import InputError, SchemaError

if TYPE_CHECKING:
    from garmentcli.synth.scene import SynthConfig

_INDEXED = re.compile(r"(\d{6})\.(jpg|json)")
SAME_PIXELS = 3.0
"""Mean absolute difference (0-255) under which a kept image counts as made by the same settings
(JPEG encoders of other OpenCV builds differ by about 1)."""


def parse_categories(values: list[str] | None) -> tuple[int, ...]:
    """Category names or ids, repeated or comma-separated; all 13 when empty."""
    from garmentcli.schema.layout import DF2

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


def _listing(entries: list[Path]) -> str:
    names = [e.name + ("/" if e.is_dir() else "") for e in entries]
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def prepare_folder(out: Path, config: SynthConfig, count: int, resume: bool, overwrite: bool) -> None:
    """Make sure ``out`` will hold exactly one dataset: refuse a used folder unless ``resume`` (then it
    must be this dataset: same options, no more images than ``count``) or ``overwrite`` (then what synth
    wrote there is removed first). Raises a one-line :class:`InputError`."""
    from garmentcli.io.df2 import ANNOS_DIR, IMAGE_DIR
    from garmentcli.synth.writer import BOARD_FILE

    written = {IMAGE_DIR, ANNOS_DIR, "coco.json", BOARD_FILE}  # what synth writes: all that --overwrite removes
    if resume and overwrite:
        raise InputError("give --resume or --overwrite, not both")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if not entries:
        return
    if overwrite:
        foreign = [e for e in entries if e.name not in written]
        if foreign:
            raise InputError(
                f"{out}: --overwrite removes only what synth writes, and the folder also holds {_listing(foreign)}; "
                "choose another folder"
            )
        for entry in entries:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        return
    if not resume:
        raise InputError(
            f"{out}: not empty ({_listing(entries)}): --resume continues the dataset in it, --overwrite "
            "replaces it, or choose an empty folder"
        )
    _check_same_dataset(out, config, count)


def _check_same_dataset(out: Path, config: SynthConfig, count: int) -> None:
    """``--resume``: the images kept must be this dataset's (none beyond ``count``, the first one as these
    options make it)."""
    import cv2
    import numpy as np

    from garmentcli.io.df2 import ANNOS_DIR, IMAGE_DIR, read_df2_anno
    from garmentcli.synth.scene import generate

    kept: list[int] = []
    for folder in (out / IMAGE_DIR, out / ANNOS_DIR):
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            match = _INDEXED.fullmatch(path.name)
            if match is None or int(match.group(1)) > count:
                raise InputError(
                    f"{out}: --resume with --count {count}, but {folder.name}/{path.name} is not one of its images; "
                    "--overwrite replaces the dataset"
                )
            kept.append(int(match.group(1)) - 1)
    both = sorted(i for i in set(kept) if kept.count(i) == 2)
    if not both:
        return
    index = both[0]
    name = f"{index + 1:06d}"
    sample = generate(config, index)
    existing = read_df2_anno(out / ANNOS_DIR / f"{name}.json", file_name=f"{name}.jpg")
    picture = cv2.imread(str(out / IMAGE_DIR / f"{name}.jpg"), cv2.IMREAD_COLOR)
    expected = cv2.imdecode(np.frombuffer(sample.encode(), np.uint8), cv2.IMREAD_COLOR)
    made = sample.record.garments
    same = (
        picture is not None
        and picture.shape == expected.shape
        and float(np.abs(picture.astype(np.int16) - expected.astype(np.int16)).mean()) < SAME_PIXELS
        and [g.category_id for g in existing.garments] == [g.category_id for g in made]
        and all(np.allclose(a.bbox, b.bbox, atol=0.01) for a, b in zip(existing.garments, made, strict=True))
    )
    if not same:
        raise InputError(
            f"{out}: --resume with other options than the dataset there was made with ({IMAGE_DIR}/{name}.jpg is "
            "not what these options make): resume with the same options, or --overwrite"
        )


def _warn_small_markers(out: Path, size: int) -> None:
    """Say how many images show a marker narrower than ``measure`` finds (:data:`MIN_MARKER_PX`)."""
    import numpy as np
    import orjson

    from garmentcli.measure.markers import MIN_MARKER_PX

    try:
        images = orjson.loads((out / "coco.json").read_bytes()).get("images", [])
    except (OSError, orjson.JSONDecodeError):
        return
    sides = []
    for image in images:
        corners = [np.asarray(m["corners_px"], float) for m in (image.get("synth") or {}).get("markers") or []]
        if corners:
            sides.append(min(float(np.hypot(*(c - np.roll(c, 1, axis=0)).T).min()) for c in corners))
    small = [side for side in sides if side < MIN_MARKER_PX]
    if small:
        common.warn(
            f"{len(small)} of {len(sides)} images show a marker under {MIN_MARKER_PX} px wide (the smallest "
            f"{min(small):.1f} px), which measure may not find: use a larger --size than {size} or a larger marker"
        )


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
        str | None,
        typer.Option(
            help="Lay one ArUco marker beside the garments, e.g. aruco:4x4_50:0:8cm (measure finds markers from "
            "22 px wide: at --size 512 an 8 cm marker may be smaller; synth says how many are)."
        ),
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
    style: Annotated[
        str,
        typer.Option(
            "--style",
            help="Look: realistic (beds, floors, hangers, worn figures, fabrics, phone camera) or flatlay-v1 "
            "(the first generator's flat-lays).",
        ),
    ] = "realistic",
    worn_fraction: Annotated[
        float,
        typer.Option("--worn-fraction", min=0.0, max=1.0, help="Realistic look: share of images worn on a figure."),
    ] = 0.25,
    hung_fraction: Annotated[
        float | None,
        typer.Option(
            "--hung-fraction",
            min=0.0,
            max=1.0,
            help="Realistic look: share of images hung on a hanger or hook (default 0.25, at most 1 - worn).",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the dataset in OUT (same options): make only the missing images."),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the dataset in OUT (its image/, annos/, coco.json).")
    ] = False,
    failures_file: Annotated[Path | None, typer.Option("--failures", help=common.FAILURES_HELP)] = None,
) -> None:
    """Generate annotated garment photos with true landmarks, visibility and measurements in cm.

    Example: garmentkp synth data/train --count 20000 --seed 1 --marker aruco:4x4_50:0:8cm
    """
    from garmentcli.io.df2 import IMAGE_DIR
    from garmentcli.synth.markers import MarkerSpec
    from garmentcli.synth.scene import SynthConfig, board_layout
    from garmentcli.synth.writer import write_dataset

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
        style=style,
        worn_fraction=worn_fraction,
        hung_fraction=min(0.25, 1.0 - worn_fraction) if hung_fraction is None else hung_fraction,
    )
    workers = workers or max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    failures = common.FailureLog(input=str(out))

    def failed(message: str) -> None:
        number = re.match(r"image (\d+):", message)
        failures.add(message, out / IMAGE_DIR / f"{int(number.group(1)):06d}.jpg" if number else None)

    with (
        common.writing("synth", out, failures_file),
        failures.recording(failures_file),
        common.make_progress() as progress,
    ):
        prepare_folder(out, config, count, resume, overwrite)
        task = progress.add_task("synth", total=count)
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress.advance(task, n)

        try:
            summary = write_dataset(out, config, count, workers, resume, advance, failed)
        except KeyboardInterrupt:
            raise common.interrupted(done[0], count, "images", out) from None
    if config.marker is not None or config.board is not None:
        _warn_small_markers(out, size)
    resumed = f", {summary.skipped} kept from before" if summary.skipped else ""
    common.info(f"wrote {summary.written} images to {out}{resumed}; {len(failures)} failed")
    raise typer.Exit(failures.exit_code)
