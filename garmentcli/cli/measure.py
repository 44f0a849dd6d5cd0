"""``garmentkp measure``: garment measurements in centimetres from landmarks, calibrated from the photo."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from garmentcli.choices import DEFAULT_MODEL, MIN_CONFIDENCE
from garmentcli.cli import common
from garmentcli.cli.engine import LOCAL, EngineOption, RayActorsOption, RayAddressOption, on_ray
from garmentcli.errors import InputError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.digest import file_sha256
from garmentcli.io.formats import guess_read_format

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from garmentcli.measure.batch import Detector, ImageItem
    from garmentcli.measure.runner import GarmentMeasurements


def make_detector(model: str, refine: bool, flip: bool, landmarks: str | None = None) -> Detector:
    """The default (or named) detector, with a top-down landmark model when one is named, loaded only when images
    are given instead of annotations."""
    from garmentcli.runtime.predictor import Predictor

    return Predictor(model, flip=flip, refine=refine, landmarks=landmarks)


def _is_image_input(input_path: str) -> bool:
    """An image file, or a folder that is not an annotation folder (DeepFashion2 split, FLD, YOLO)."""
    from garmentcli.io.images import IMAGE_SUFFIXES

    path = Path(input_path)
    if path.is_dir():
        try:
            guess_read_format(path)
        except InputError:
            return True
        return False
    return path.suffix.lower() in IMAGE_SUFFIXES


def measure(
    input_path: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="Annotations or detections (COCO, JSONL, DF2 folder, CSV ...), '-' for JSONL on stdin, "
            "or an image folder / image file (the detector runs first).",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (.csv, or .json); '-' for stdout.")],
    images: Annotated[
        Path | None,
        typer.Option(help="Folder the annotations' file_name entries are relative to (needed by --marker/--board)."),
    ] = None,
    px_per_cm: Annotated[
        float | None, typer.Option("--px-per-cm", help="Known scale; with --marker/--board: the fallback.")
    ] = None,
    dpi: Annotated[float | None, typer.Option(help="Scanner resolution (dots per inch), instead of a scale.")] = None,
    marker: Annotated[
        str | None,
        typer.Option(
            help="One ArUco marker: aruco:DICT:ID:SIZE_CM, SIZE_CM being the black square's side AS MEASURED "
            "on the print, e.g. aruco:4x4_50:0:8.0. Scale only: keep the camera square-on."
        ),
    ] = None,
    board: Annotated[
        Path | None, typer.Option(help="Marker board layout JSON (from `garmentkp board`): works under tilt.")
    ] = None,
    definitions: Annotated[
        Path | None, typer.Option(help="Your own measurement definitions (YAML or JSON) instead of the bundled ones.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write a JSON list instead of CSV.")] = False,
    max_tilt: Annotated[
        float, typer.Option("--max-tilt", help="Warn when a single marker looks more oblique than this (degrees).")
    ] = 8.0,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Predicted landmarks below this confidence count as missing.")
    ] = MIN_CONFIDENCE,
    model: Annotated[str, typer.Option(help="Model for image inputs (name or .onnx path).")] = DEFAULT_MODEL,
    precision: Annotated[common.PrecisionName, typer.Option(help=common.PRECISION_HELP)] = common.AUTO,
    refine: Annotated[
        bool, typer.Option(help="Image inputs: detect again on a zoomed crop of each garment (finer landmarks).")
    ] = True,
    flip: Annotated[
        bool, typer.Option(help="Image inputs: average with the mirrored image (flip augmentation).")
    ] = True,
    landmarks: Annotated[
        str | None,
        typer.Option(help="Image inputs: a top-down landmark model whose landmarks replace the detector's."),
    ] = None,
    failures_file: Annotated[Path | None, typer.Option("--failures", help=common.FAILURES_HELP)] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML report: a histogram per measurement.")
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="With --report: true sizes (annotations with measurements_cm, as synth writes, or a measure "
            "CSV/JSON table) to compare with: errors per measurement."
        ),
    ] = None,
    engine: EngineOption = LOCAL,
    ray_address: RayAddressOption = None,
    ray_actors: RayActorsOption = None,
) -> None:
    """Measure garments in cm: one row per garment with each measurement, the calibration used and flags.

    Examples: garmentkp measure gt.json --images photos/ --board board.json -o sizes.csv;
    garmentkp detect photos/ -o - | garmentkp measure - --images photos/ --marker aruco:4x4_50:0:8.0 -o -;
    photos detected on a Ray cluster: garmentkp measure photos/ --px-per-cm 12 -o sizes.csv --engine ray
    """
    from garmentcli.io.df2 import IMAGE_DIR
    from garmentcli.io.sources import expand_sources
    from garmentcli.measure.batch import (
        detected_items,
        file_items,
        make_calibrator,
        measure_items,
        read_lines,
        stream_items,
    )
    from garmentcli.measure.compare import read_truth
    from garmentcli.measure.definitions import load_definitions
    from garmentcli.runtime.output import detection_settings, run_file_path, run_record

    if truth is not None and report is None:
        raise InputError(f"--truth {truth}: only used with --report")
    true_garments = read_truth(truth) if truth is not None else None
    if str(output) != "-" and output.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"{output}: measure writes .csv or .json (or - for stdout), not '{output.suffix}'")
    calibrator = make_calibrator(px_per_cm, dpi, marker, board, max_tilt)
    chosen = load_definitions(definitions)
    settings = {
        "px_per_cm": px_per_cm,
        "dpi": dpi,
        "marker": marker,
        "board_sha256": None if board is None else file_sha256(board),
        "max_tilt": max_tilt,
        "definitions_sha256": None if definitions is None else file_sha256(definitions),
        "min_confidence": min_confidence,
    }
    if on_ray(engine) and (input_path == "-" or not _is_image_input(input_path)):
        raise InputError(f"--engine ray detects garments in photos; {input_path} holds annotations: leave it out")
    if on_ray(engine) and landmarks is not None:
        raise InputError("--landmarks: not on Ray yet; run it locally (--engine local)")
    failures = common.FailureLog(input=input_path)
    items: Iterable[ImageItem] = ()
    cluster_rows: Callable[[Callable[[], None]], Iterator[GarmentMeasurements]] | None = None
    """On Ray: the rows measured on the cluster, given what to call as each photo is done."""
    total: int | None = None
    detected = False
    if input_path == "-":
        items = stream_items(read_lines(sys.stdin), images, failures.add)
    elif _is_image_input(input_path):
        sources = expand_sources([input_path])
        model = common.with_precision(model, precision, common.ONNX, common.CPU)
        detector = make_detector(model, refine, flip, landmarks)
        if on_ray(engine):
            from garmentcli.scale.run import MeasureSpec, cluster_measurements, require_ray

            require_ray()  # before the output is opened
            measuring = MeasureSpec(calibrator, chosen, min_confidence)
            cluster_rows = functools.partial(
                cluster_measurements,
                *(sources, detector, model, measuring, failures.add, common.warn, ray_address, ray_actors),
            )
        else:
            items = detected_items(sources, detector, failures.add)
        total = len(sources)
        settings["detection"] = detection_settings(detector)
        detected = True
    elif Path(input_path).exists():
        given = Path(input_path)
        root = images if images is not None else (given if given.is_dir() else given.parent)
        items = file_items(given, root, failures.add)
        total = len(items)
        if calibrator.needs_image and items and not any(i.path is not None and i.path.is_file() for i in items):
            where = f"in {images}" if images is not None else f"beside {given} (nor in its {IMAGE_DIR}/ folder)"
            raise InputError(
                f"{input_path}: the calibration finds its markers in the photos, and none of them is {where} "
                f"(first: {items[0].record.file_name}): give --images DIR, the folder the file names are relative to"
            )
    else:
        raise InputError(f"{input_path}: no such file or folder")
    json_output = as_json or output.suffix.lower() == ".json"
    with (
        common.writing("measure", output, failures_file, report),
        failures.recording(failures_file),
        common.make_progress() as progress,
    ):
        if str(output) != "-":
            with atomic_write(run_file_path(output), "wb") as handle:
                handle.write(orjson.dumps(run_record(settings), option=orjson.OPT_INDENT_2) + b"\n")
        task = progress.add_task("measuring", total=total)
        rows = (
            cluster_rows(lambda: progress.advance(task))
            if cluster_rows is not None
            else measure_items(
                _counted(items, progress, task), calibrator, chosen, failures.add, common.warn, min_confidence
            )
        )
        kept: list[GarmentMeasurements] = []
        written, finished = _write(_kept(rows, kept) if report else rows, output, chosen.all_names(), json_output)
        if report is not None:
            from garmentcli.viz.measure_report import write_measure_report

            write_measure_report(
                report,
                kept,
                chosen.all_names(),
                input_path=input_path,
                truth=truth,
                true_garments=true_garments,
                model=model if detected else None,
            )
    common.info(f"measured {written} garments -> {output}" + (f" ({len(failures)} failures)" if failures else ""))
    raise typer.Exit(failures.exit_code if finished else common.EXIT_PARTIAL)


def _kept(rows: Iterable[GarmentMeasurements], kept: list[GarmentMeasurements]) -> Iterator[GarmentMeasurements]:
    """The rows, each also appended to ``kept`` (for the report)."""
    for row in rows:
        kept.append(row)
        yield row


def _counted(items: Iterable[ImageItem], progress: Progress, task: TaskID) -> Iterator[ImageItem]:
    """The items, advancing the progress bar as each one is taken."""
    for item in items:
        yield item
        progress.advance(task)


def _write(rows: Iterable[GarmentMeasurements], output: Path, names: list[str], json_output: bool) -> tuple[int, bool]:
    """Stream rows into ``output``; an interrupted run (Ctrl-C) keeps the rows finished so far.

    Returns the number of rows written and whether the input was exhausted.
    """
    from garmentcli.measure.table import CsvRows, JsonRows

    count, finished = 0, True
    with atomic_write(output, "w") as handle:
        sink = (JsonRows if json_output else CsvRows)(handle, names)
        try:
            for row in rows:
                sink.write(row)
                count += 1
        except KeyboardInterrupt:
            finished = False
            common.warn(f"interrupted: {output} keeps the {count} garments measured so far")
        sink.close()
    return count, finished
