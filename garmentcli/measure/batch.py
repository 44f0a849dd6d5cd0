"""The batch behind ``garmentkp measure``: where the garments come from, and calibrating image by image.

Garments come from an annotation file (detector output or ground truth), from JSON Lines on
standard input (streamed line by line, for ``detect ... -o - | measure -``), or from running the
detector over image files. Each image is calibrated on its own; an image that cannot be (no
marker, unreadable file) is reported through ``on_failure`` and its garments still get rows,
with empty values and the reason, so the output keeps one row per garment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from garmentcli.errors import InputError
from garmentcli.io.df2 import IMAGE_DIR
from garmentcli.io.formats import read_annotations
from garmentcli.io.images import read_image
from garmentcli.io.jsonio import parse_json
from garmentcli.io.jsonl import image_from_json
from garmentcli.io.sources import ImageSource
from garmentcli.measure.board import BoardLayout
from garmentcli.measure.calibration import (
    Calibrator,
    FixedScale,
    MarkerBoard,
    MarkerSpec,
    SingleMarker,
    WithFallback,
)
from garmentcli.measure.definitions import Definitions
from garmentcli.measure.runner import MIN_CONFIDENCE, GarmentMeasurements, measure_record
from garmentcli.schema.records import ImageRecord

if TYPE_CHECKING:
    from garmentcli.runtime.predictor import ErrorHandler

Report = Callable[[str], None]


@dataclass
class ImageItem:
    """One image's garments, with its pixels when already loaded or the path to load them from."""

    record: ImageRecord
    image: np.ndarray | None = None
    path: Path | None = None


class Detector(Protocol):
    """What measure needs of the detector: :meth:`Predictor.predict_sources_with_images
    <garmentcli.runtime.predictor.Predictor.predict_sources_with_images>`."""

    def predict_sources_with_images(
        self, sources: Sequence[ImageSource], ids: Sequence[int] | None = None, on_error: ErrorHandler | None = None
    ) -> Iterator[tuple[ImageRecord, np.ndarray]]: ...


def make_calibrator(
    px_per_cm: float | None = None,
    dpi: float | None = None,
    marker: str | None = None,
    board: Path | None = None,
    max_tilt_deg: float = 8.0,
) -> Calibrator:
    """The calibrator the options ask for; a fixed scale given with a marker or board is its fallback."""
    if px_per_cm is not None and dpi is not None:
        raise InputError("give either --px-per-cm or --dpi, not both")
    if marker is not None and board is not None:
        raise InputError("give either --marker or --board, not both")
    fixed = None
    if px_per_cm is not None:
        fixed = FixedScale(px_per_cm)
    elif dpi is not None:
        fixed = FixedScale.from_dpi(dpi)
    if not (math.isfinite(max_tilt_deg) and 0 < max_tilt_deg < 90):
        raise InputError(f"--max-tilt must be between 0 and 90 degrees, got {max_tilt_deg}")
    primary: SingleMarker | MarkerBoard | None = None
    if marker is not None:
        primary = SingleMarker(MarkerSpec.parse(marker), max_tilt_deg)
    elif board is not None:
        primary = MarkerBoard(BoardLayout.from_json(board))
    if primary is None:
        if fixed is None:
            raise InputError("no calibration: give --px-per-cm, --dpi, --marker aruco:DICT:ID:SIZE or --board FILE")
        return fixed
    return primary if fixed is None else WithFallback(primary, fixed)


def _image_path(root: Path | None, record: ImageRecord) -> Path | None:
    """``root/file_name``, or ``root/image/file_name`` when only that exists (DeepFashion2 / synth layout)."""
    if root is None:
        return None
    direct, split = root / record.file_name, root / IMAGE_DIR / record.file_name
    return split if not direct.exists() and split.exists() else direct


def file_items(path: Path, image_root: Path | None, on_error: Report) -> list[ImageItem]:
    """Images of an annotation file in any format ``read_annotations`` knows (bad entries reported, skipped)."""
    return [
        ImageItem(record, path=_image_path(image_root, record)) for record in read_annotations(path, on_error=on_error)
    ]


def stream_items(lines: Iterable[str], image_root: Path | None, on_error: Report) -> Iterator[ImageItem]:
    """Images of a JSON Lines stream, one per line as it arrives (bad lines reported, skipped)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"<stdin>: line {number}"
        try:
            record = image_from_json(parse_json(line, where), lambda message, at=where: on_error(f"{at}: {message}"))
        except InputError as exc:
            on_error(str(exc) if str(exc).startswith(where) else f"{where}: {exc}")
            continue
        yield ImageItem(record, path=_image_path(image_root, record))


def detected_items(sources: list[ImageSource], detector: Detector, on_error: Report) -> Iterator[ImageItem]:
    """Run the detector over the images, batched and decoded ahead as ``detect`` does; unreadable images are
    reported and skipped."""
    from garmentcli.runtime.predictor import failure_message

    found = detector.predict_sources_with_images(
        sources, range(len(sources)), lambda source, exc: on_error(failure_message(source, exc))
    )
    paths = {source.name: source.path for source in sources}
    for record, image in found:
        yield ImageItem(record, image=image, path=paths[record.file_name])


def measure_items(
    items: Iterable[ImageItem],
    calibrator: Calibrator,
    definitions: Definitions,
    on_failure: Report,
    on_warning: Report,
    min_confidence: float = MIN_CONFIDENCE,
) -> Iterator[GarmentMeasurements]:
    """Calibrate each image and measure its garments, yielding rows as they are ready."""
    for item in items:
        name = item.record.file_name
        try:
            image = item.image
            if calibrator.needs_image and image is None:
                if item.path is None:
                    raise InputError("the calibration needs the photo: give --images DIR")
                image = read_image(item.path)
            calibration = calibrator.calibrate(image)
        except InputError as exc:
            message = str(exc)
            on_failure(message if message.startswith(str(item.path)) else f"{name}: {message}")
            yield from measure_record(item.record, None, definitions, min_confidence, failure=message)
            continue
        for warning in calibration.warnings:
            on_warning(f"{name}: {warning}")
        yield from measure_record(item.record, calibration, definitions, min_confidence)


def read_lines(stream: IO[str]) -> Iterator[str]:
    """Lines of a text stream as they arrive (``for line in sys.stdin`` may buffer ahead)."""
    yield from iter(stream.readline, "")
