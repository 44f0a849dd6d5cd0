"""``garmentkp draw``: pictures of annotations or predictions over their images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from garmentcli.cli import common
from garmentcli.cli.convert import ReadFormat
from garmentcli.errors import GarmentError, InputError
from garmentcli.io.formats import read_annotations

if TYPE_CHECKING:
    import numpy as np

    from garmentcli.schema.records import AnnotationSet, ImageRecord

SHEET_CELL_WIDTH = 320


def select_images(
    aset: AnnotationSet, categories: set[int] | None, min_score: float, limit: int | None
) -> Iterator[ImageRecord]:
    """Images to draw, each with only the garments that pass the filters; at most ``limit``.

    With a category filter, images left without garments are not drawn.
    """
    from garmentcli.schema.records import ImageRecord

    count = 0
    for image in aset.images:
        if limit is not None and count >= limit:
            return
        garments = [
            g
            for g in image.garments
            if (categories is None or g.category_id in categories) and (g.score is None or g.score >= min_score)
        ]
        if categories is not None and not garments:
            continue
        count += 1
        yield ImageRecord(image.id, image.file_name, image.width, image.height, garments, image.extra)


def _output_path(outdir: Path, file_name: str) -> Path:
    relative = Path(file_name)
    if relative.is_absolute() or ".." in relative.parts:
        relative = Path(relative.name)
    return outdir / relative.with_suffix(".jpg")


def _image_root(aset: AnnotationSet, annotations: Path) -> Path:
    """The folder the entries' names are relative to: as the run that wrote them recorded, else the default."""
    from garmentcli.io.df2 import default_image_folder
    from garmentcli.runtime.output import read_run_file
    from garmentcli.schema.records import RUN_KEY

    run = aset.info.get(RUN_KEY) or read_run_file(annotations) or {}  # a CSV's run is recorded beside it
    recorded = run.get("image_root")
    if recorded and Path(recorded).is_dir():
        return Path(recorded)
    return default_image_folder(annotations)


def draw(
    annotations: Annotated[
        str,
        typer.Argument(
            metavar="ANNOTATIONS", help="Annotations or predictions in any format `garmentkp convert` reads."
        ),
    ],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for the pictures (JPEG, same names).")],
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="Folder the entries' file names are relative to (default: the image root a detect output "
            "records, else image/ of a DeepFashion2 split, else the annotation file's folder).",
        ),
    ] = None,
    from_format: Annotated[
        ReadFormat | None, typer.Option("--from", help="Input format; guessed when omitted.")
    ] = None,
    max_images: Annotated[int | None, typer.Option("--max", min=1, help="Draw at most this many images.")] = None,
    filter_category: Annotated[
        list[str] | None,
        typer.Option("--filter-category", help="Only garments of this category (name or id); repeatable."),
    ] = None,
    min_score: Annotated[float, typer.Option("--min-score", help="Hide predictions scored below this.")] = 0.0,
    sheet: Annotated[
        Path | None, typer.Option("--sheet", help="Also write one contact sheet of all the pictures here.")
    ] = None,
    cols: Annotated[int, typer.Option("--cols", min=1, help="Contact-sheet columns.")] = 4,
) -> None:
    """Draw boxes, outlines, landmarks (filled = visible, hollow = occluded), labels and scores.

    Examples: garmentkp draw validation/ --images validation/image -o drawn/ --max 20;
    garmentkp draw pred.jsonl --images photos/ -o drawn/ --min-score 0.3 --filter-category trousers --sheet sheet.jpg
    """
    import cv2

    from garmentcli.io.images import read_image, write_image
    from garmentcli.schema.garments import category_id_of
    from garmentcli.viz.draw import contact_sheet, draw_garments

    given = images
    try:
        categories = {category_id_of(c) for c in filter_category} if filter_category else None
    except GarmentError as exc:
        raise InputError(f"--filter-category: {exc}") from None
    with common.writing("draw", outdir, sheet):
        failures = common.FailureLog()
        aset = read_annotations(annotations, from_format.value if from_format else None, on_error=failures.add)
        images = given or _image_root(aset, Path(annotations))
        if not images.is_dir():
            raise InputError(f"{images}: no such folder")
        chosen = list(select_images(aset, categories, min_score, max_images))
        if not chosen:
            raise InputError(f"{annotations}: no images to draw" + (" with those categories" if categories else ""))
        thumbnails: list[np.ndarray] = []
        thumbnail_names: list[str] = []
        drawn = 0
        with common.make_progress() as progress:
            task = progress.add_task("drawing", total=len(chosen))
            for record in chosen:
                try:
                    picture = draw_garments(read_image(images / record.file_name), record.garments)
                    write_image(picture, _output_path(outdir, record.file_name))
                except InputError as exc:
                    failures.add(f"{exc} (image id={record.id})")
                else:
                    drawn += 1
                    if sheet is not None:
                        scale = SHEET_CELL_WIDTH / picture.shape[1]
                        thumbnails.append(cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
                        thumbnail_names.append(record.file_name)
                progress.advance(task)
        if sheet is not None and thumbnails:
            write_image(contact_sheet(thumbnails, cols, SHEET_CELL_WIDTH, names=thumbnail_names), sheet)
    common.info(
        f"drew {drawn} of {len(chosen)} images -> {outdir}" + (f" ({len(failures)} failures)" if failures else "")
    )
    raise typer.Exit(failures.exit_code if drawn else common.EXIT_USER_ERROR)
