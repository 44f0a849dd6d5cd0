"""JSON files in and out: orjson for speed, one-line errors naming the file, atomic writes.

``NaN``/``Infinity`` are not JSON, but Python's ``json`` module writes them; such files are
read with the standard library so the offending entry can be reported (and skipped) by the
reader's validation instead of the whole file failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from garmentcli.errors import FormatError, InputError
from garmentcli.io.atomic import atomic_write

OnError = Callable[[str], None]
"""Called with a one-line message for each bad entry a reader skips."""

DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def raise_on_error(message: str) -> None:
    """The default ``on_error``: stop at the first bad entry."""
    raise FormatError(message)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or :class:`InputError` naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a folder, expected a file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def parse_json(data: bytes | str, source: str) -> Any:
    """Parse JSON text; ``source`` names the file (and line) in the error."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as fast_error:
        try:
            return json.loads(data)  # accepts NaN / Infinity, which validation then reports per entry
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise FormatError(f"{source}: malformed JSON ({fast_error})") from None


def load_json(path: Path) -> Any:
    """Read and parse a JSON file, with one-line errors naming it."""
    data = read_bytes(path)
    if not data.strip():
        raise FormatError(f"{path}: empty file")
    return parse_json(data, str(path))


def dump_json(obj: Any) -> bytes:
    """Serialise to compact JSON bytes (numpy arrays and scalars allowed)."""
    return orjson.dumps(obj, option=DUMP_OPTIONS)


def write_json(obj: Any, path: Path) -> None:
    """Write ``obj`` as JSON, atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(dump_json(obj))


def write_json_list(items: Iterable[Any], path: Path) -> None:
    """Write a JSON list item by item, so the whole serialised text is never held in memory."""
    with atomic_write(path, "wb") as handle:
        write_list_items(handle, items)


def write_list_items(handle: Any, items: Iterable[Any]) -> None:
    """Write ``[item, item, ...]`` to an open binary handle, one item serialised at a time."""
    handle.write(b"[")
    for index, item in enumerate(items):
        if index:
            handle.write(b",")
        handle.write(dump_json(item))
    handle.write(b"]")
