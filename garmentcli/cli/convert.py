"""``garmentkp convert``: move annotations or predictions between formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from garmentcli.cli import common
from garmentcli.errors import InputError
from garmentcli.io.formats import (
    IMAGE_WRITERS,
    READERS,
    WRITERS,
    check_output_suffix,
    companion_paths,
    guess_read_format,
    guess_write_format,
    read_annotations,
)
from garmentcli.io.formats import write_annotations as write_set

ReadFormat = common.choices("ReadFormat", READERS)
WriteFormat = common.choices("WriteFormat", WRITERS)


def convert(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SRC",
            help="Annotations: DeepFashion2 split folder, COCO / result .json, FLD folder or list_landmarks.txt, "
            ".jsonl ('-' for stdin), wide .csv.",
        ),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="DST", help="Output file or folder (df2); '-' for stdout.")
    ],
    from_format: Annotated[
        ReadFormat | None, typer.Option("--from", help="Input format; guessed from SRC when omitted.")
    ] = None,
    to_format: Annotated[
        WriteFormat | None, typer.Option("--to", help="Output format; guessed from DST's suffix when omitted.")
    ] = None,
    images_from: Annotated[
        Path | None,
        typer.Option(
            "--images-from",
            help="For a result list: annotations whose images (ids, file names, sizes) the results belong to.",
        ),
    ] = None,
    image_root: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="yolo/yolo-grouped: the folder the image file names are relative to, copied into DST/images "
            "(default: image/ of a DeepFashion2 split, else SRC's folder).",
        ),
    ] = None,
    failures_file: Annotated[Path | None, typer.Option("--failures", help=common.FAILURES_HELP)] = None,
) -> None:
    """Convert between DeepFashion2, COCO, result lists, FLD, CSV, JSON Lines, YOLO-pose, CVAT and Label Studio.

    Bad entries are reported one line each and skipped; the rest is written (exit code 2).

    Examples: garmentkp convert validation/ -o val_coco.json;
    garmentkp convert val_coco.json -o val.csv;
    garmentkp convert pred.json --from results --images-from val_coco.json -o pred.jsonl;
    garmentkp convert Anno/list_landmarks.txt -o fld.json;
    garmentkp convert val_coco.json -o yolo_ds/ --to yolo-grouped --images val/image;
    garmentkp convert pred.json -o review.xml (CVAT);
    garmentkp convert pred.json -o tasks.json --to labelstudio
    """
    src_format = from_format.value if from_format else guess_read_format(Path(source))
    try:
        dst_format = to_format.value if to_format else guess_write_format(Path(output))
    except InputError as exc:
        raise InputError(f"{exc}; or name it with --to ({', '.join(WRITERS)})") from None
    check_output_suffix(output, dst_format)
    if output == "-" and dst_format == "df2":
        raise InputError("df2 output is a folder of files; give a folder with -o, not '-'")
    failures = common.FailureLog(input=source)
    with (
        common.writing("convert", output, *companion_paths(Path(output), dst_format), failures_file),
        failures.recording(failures_file),
    ):
        images = read_annotations(images_from) if images_from is not None else None
        aset = read_annotations(source, src_format, on_error=failures.add, images=images)
        if not aset.images and failures:
            raise InputError(f"{source}: no usable entries ({len(failures)} errors)")
        options = {}
        if dst_format in IMAGE_WRITERS:
            from garmentcli.io.df2 import default_image_folder

            options["image_root"] = image_root or default_image_folder(Path(source))
        write_set(aset, output, dst_format, **options)
    summary = f"{source} ({src_format}) -> {output} ({dst_format}): {len(aset)} images, {aset.num_garments} garments"
    common.info(summary + (f"; {len(failures)} bad entries skipped" if failures else ""))
    raise typer.Exit(failures.exit_code)
