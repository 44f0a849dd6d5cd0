"""JSON Lines: one image with its garments per line, for streaming and resumable runs.

A line is ``{"id", "file_name", "width", "height", "garments": [...], <image extra keys>}``; a
garment is ``{"category_id", "category_name", "bbox": [x, y, w, h], "landmarks": [x, y, v] * K,
"score"?, "id"?, "segmentation"?, <attributes>, <garment extra keys>}`` with K the landmarks of
its own category (8 FLD slots for FLD garments). :class:`JsonlAppender` appends and flushes one
line per image, so an interrupted run keeps every finished image; a line cut short by the
interruption is removed when the file is opened again, and :func:`read_done_names` tells a
resumed run which images to skip. The first line may also carry ``"garmentkp_run"``: what the
run that wrote the file recorded about itself (:data:`~garmentcli.schema.records.RUN_KEY`), read
into :attr:`AnnotationSet.info` and written back from there.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from garmentcli.errors import FormatError, InputError, SchemaError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.jsonio import OnError, dump_json, parse_json, raise_on_error, read_bytes
from garmentcli.schema.garments import category_id_of, category_name, garment_from_fields
from garmentcli.schema.records import RUN_KEY, AnnotationSet, Garment, ImageRecord

_IMAGE_KEYS = frozenset({"id", "file_name", "width", "height", "garments"})
_GARMENT_KEYS = frozenset({"id", "category_id", "category_name", "bbox", "landmarks", "score", "segmentation"})


def garment_to_json(garment: Garment) -> dict:
    """One garment as a JSON-able dict of plain values."""
    entry: dict[str, Any] = {
        **garment.extra,
        "category_id": garment.category_id,
        "category_name": category_name(garment.category_id),
        "bbox": garment.bbox.tolist(),
        "landmarks": garment.landmarks.ravel().tolist(),
    }
    if garment.score is not None:
        entry["score"] = garment.score
    if garment.id is not None:
        entry["id"] = garment.id
    if garment.segmentation:
        entry["segmentation"] = garment.segmentation
    entry.update(garment.attributes)
    return entry


def image_to_json(record: ImageRecord) -> dict:
    """One image and its garments as a JSON-able dict (one JSON Lines line)."""
    return {
        **record.extra,
        "id": record.id,
        "file_name": record.file_name,
        "width": record.width,
        "height": record.height,
        "garments": [garment_to_json(g) for g in record.garments],
    }


def garment_from_json(entry: Any) -> Garment:
    """Parse one garment dict; raises a one-line :class:`FormatError`."""
    if not isinstance(entry, dict):
        raise FormatError("garment is not an object")
    try:
        category_id = category_id_of(entry.get("category_id", entry.get("category_name")))
        bbox = entry["bbox"]
    except KeyError:
        raise FormatError("garment has no bbox") from None
    except SchemaError as exc:
        raise FormatError(str(exc)) from None
    return garment_from_fields(entry, category_id, bbox, entry.get("landmarks"), _GARMENT_KEYS)


def image_from_json(entry: Any, on_error: OnError = raise_on_error) -> ImageRecord:
    """Parse one line's dict into an :class:`ImageRecord`; bad garments go to ``on_error`` and are skipped."""
    if not isinstance(entry, dict):
        raise FormatError("line is not a JSON object")
    try:
        record = ImageRecord(
            id=int(entry["id"]),
            file_name=str(entry["file_name"]),
            width=int(entry.get("width") or 0),
            height=int(entry.get("height") or 0),
            extra={k: v for k, v in entry.items() if k not in _IMAGE_KEYS},
        )
    except KeyError as exc:
        raise FormatError(f"image has no {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise FormatError(f"image id/width/height not integers ({exc})") from None
    garments = entry.get("garments") or []
    if not isinstance(garments, list):
        raise FormatError("garments is not a list")
    for index, garment in enumerate(garments):
        try:
            record.garments.append(garment_from_json(garment))
        except FormatError as exc:
            on_error(f"{record.file_name}: garment #{index}: {exc}")
    return record


def _prefixed(on_error: OnError, where: str) -> OnError:
    def report(message: str) -> None:
        on_error(f"{where}: {message}")

    return report


def read_jsonl(path: Path, on_error: OnError = raise_on_error) -> AnnotationSet:
    """Read a JSON Lines file (``-`` reads standard input); bad lines are reported and skipped."""
    data = sys.stdin.buffer.read() if str(path) == "-" else read_bytes(Path(path))
    records: list[ImageRecord] = []
    info: dict[str, Any] = {}
    seen: set[int] = set()
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = image_from_json(parse_json(line, where), _prefixed(on_error, where))
        except FormatError as exc:
            on_error(str(exc) if str(exc).startswith(where) else f"{where}: {exc}")
            continue
        run = record.extra.pop(RUN_KEY, None)
        if run is not None:
            info.setdefault(RUN_KEY, run)
        if record.id in seen:
            on_error(f"{where}: duplicate image id {record.id}, skipped")
            continue
        seen.add(record.id)
        records.append(record)
    return AnnotationSet(records, info)


def with_run(record: ImageRecord, run: dict[str, Any] | None) -> ImageRecord:
    """The record carrying ``run`` (:data:`RUN_KEY`), as the first line of a JSON Lines file does."""
    if run is None:
        return record
    return dataclasses.replace(record, extra={RUN_KEY: run, **record.extra})


def write_jsonl(aset: AnnotationSet, path: Path) -> None:
    """Write one line per image, atomically (``-`` writes to standard output); the first line carries
    the set's :data:`RUN_KEY` when it has one."""
    with atomic_write(path, "wb") as handle:
        for index, record in enumerate(aset.images):
            line = with_run(record, aset.info.get(RUN_KEY)) if index == 0 else record
            handle.write(dump_json(image_to_json(line)) + b"\n")


def _last_line_start(handle: IO[bytes], size: int) -> int:
    """Offset where the file's last line begins."""
    position = size
    while position > 0:
        step = min(65536, position)
        position -= step
        handle.seek(position)
        found = handle.read(step).rfind(b"\n")
        if found >= 0:
            return position + found + 1
    return 0


def _finish_last_line(path: Path) -> None:
    """Make the file end with a newline: cut a last line an interrupted writer left half-written,
    or end a complete one (a file written without a final newline) with its newline."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        start = _last_line_start(handle, size)
        handle.seek(start)
        try:
            orjson.loads(handle.read())
        except orjson.JSONDecodeError:
            handle.truncate(start)
        else:
            handle.write(b"\n")


class JsonlAppender:
    """Append one image per line to a JSON Lines file, flushed after each, keeping what is already there.

    Use as a context manager; ``-`` appends to standard output.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: IO[bytes]
        if str(path) == "-":
            self._handle = sys.stdout.buffer
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _finish_last_line(self.path)
        try:
            self._handle = self.path.open("ab")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open for appending ({exc.strerror or exc})") from exc

    def append(self, record: ImageRecord) -> None:
        self.append_line(orjson.dumps(image_to_json(record)))

    def append_line(self, line: bytes) -> None:
        """Append one image already serialised as its line (:func:`image_to_json`, no newline)."""
        self._handle.write(line + b"\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not sys.stdout.buffer:
            os.fsync(self._handle.fileno())
            self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def read_run(path: str | Path) -> dict[str, Any] | None:
    """What the run that wrote a JSON Lines file recorded (:data:`RUN_KEY` of its first line), or None."""
    path = Path(path)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        entry = orjson.loads(first)
    except orjson.JSONDecodeError:
        return None
    return entry.get(RUN_KEY) if isinstance(entry, dict) else None


def read_done_names(path: str | Path) -> set[str]:
    """File names already in a JSON Lines output (for ``--resume``); empty when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return set()
    done: set[str] = set()
    for line in read_bytes(path).splitlines():
        try:
            done.add(orjson.loads(line)["file_name"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # blank or cut-short line
    return done
