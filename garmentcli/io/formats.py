"""One entry point for every annotation format: ``read_annotations`` / ``write_annotations``.

:data:`READERS` and :data:`WRITERS` map format names to functions, so other modules can add
formats (reader ``(path, on_error) -> AnnotationSet``, writer ``(aset, path) -> None``). When
no format is given it is guessed from the path: folders by their content (``annos/`` ->
``df2``, ``list_landmarks.txt`` -> ``fld``), files by suffix, ``.json`` files by their first
bytes (a list is a result list), ``-`` is JSON Lines on stdin/stdout.

Each format's module is imported when the format is first used, so a command loads only what its
formats need (pandas for CSV and FLD, OpenCV for image sizes, defusedxml for CVAT), and
``garmentkp --help`` none of them.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmentcli.errors import FormatError, GarmentError, InputError
from garmentcli.io.jsonio import OnError, raise_on_error

if TYPE_CHECKING:
    from garmentcli.schema.records import AnnotationSet

Reader = Callable[[Path, OnError], "AnnotationSet"]
Writer = Callable[["AnnotationSet", Path], None]


def _on_use(module: str, function: str, **bound: Any) -> Callable[..., Any]:
    """``garmentcli.io.<module>.<function>`` with ``bound`` keyword arguments, its module imported on first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"garmentcli.io.{module}"), function)(*args, **bound, **kwargs)

    call.__name__ = call.__qualname__ = function
    call.__doc__ = f"``garmentcli.io.{module}.{function}``" + (f" with {bound}" if bound else "") + "."
    return call


def _read_df2(path: Path, on_error: OnError) -> AnnotationSet:
    """A split folder, or a single annos file."""
    from garmentcli.io import df2
    from garmentcli.schema.records import AnnotationSet

    if path.is_dir():
        return df2.read_df2_split(path, on_error)
    return AnnotationSet([df2.read_df2_anno(path, on_error=on_error)])


READERS: dict[str, Reader] = {
    "df2": _read_df2,
    "coco": _on_use("coco", "read_coco"),
    "results": _on_use("coco", "read_coco"),
    "fld": _on_use("fld", "read_fld"),
    "jsonl": _on_use("jsonl", "read_jsonl"),
    "csv": _on_use("tables", "read_csv"),
    "yolo": _on_use("yolo", "read_yolo"),
    "cvat": _on_use("cvat", "read_cvat"),
    "labelstudio": _on_use("labelstudio", "read_labelstudio"),
}

WRITERS: dict[str, Writer] = {
    "coco": _on_use("coco", "write_coco"),
    "results": _on_use("coco", "write_results"),
    "csv": _on_use("tables", "write_csv"),
    "csv-long": _on_use("tables", "write_csv_long"),
    "jsonl": _on_use("jsonl", "write_jsonl"),
    "df2": _on_use("df2", "write_df2_split"),
    "yolo": _on_use("yolo", "write_yolo"),
    "yolo-grouped": _on_use("yolo", "write_yolo", layout="grouped"),
    "cvat": _on_use("cvat", "write_cvat"),
    "labelstudio": _on_use("labelstudio", "write_labelstudio"),
}

IMAGE_WRITERS = frozenset({"yolo", "yolo-grouped"})
"""Writers that place the images themselves: they take ``image_root`` (the folder file names are relative to)."""

_READ_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".txt": "fld", ".xml": "cvat", ".zip": "cvat"}
_WRITE_SUFFIXES = {
    ".json": "coco",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".xml": "cvat",
    ".zip": "cvat",
}

OUTPUT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "coco": (".json",),
    "results": (".json",),
    "labelstudio": (".json",),
    "csv": (".csv",),
    "csv-long": (".csv",),
    "jsonl": (".jsonl", ".ndjson"),
    "cvat": (".xml", ".zip"),
    "df2": ("",),
    "yolo": ("",),
    "yolo-grouped": ("",),
}
"""What each writer's output is called: file suffixes, or ``""`` for a folder."""


def _sniff_json(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if head.startswith(b"[") and any(key in head for key in (b'"data"', b'"predictions"', b'"annotations"')):
        return "labelstudio"
    if head.startswith(b"["):
        return "results"
    if b'"item1"' in head and b'"annotations"' not in head and b'"images"' not in head:
        return "df2"
    return "coco"


def guess_read_format(path: Path) -> str:
    """The reader for ``path``: by folder content, suffix, or a ``.json`` file's first bytes."""
    if str(path) == "-":
        return "jsonl"
    if path.is_dir():
        from garmentcli.io import df2, fld

        if (path / df2.ANNOS_DIR).is_dir() or (path.name == df2.ANNOS_DIR and any(path.glob("*.json"))):
            return "df2"
        if fld.find_fld_files(path) is not None:
            return "fld"
        if (path / "data.yaml").is_file():
            return "yolo"
        raise InputError(
            f"{path}: cannot tell the format of this folder (no annos/, list_landmarks.txt or data.yaml in it)"
        )
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _sniff_json(path)
    if suffix in _READ_SUFFIXES:
        return _READ_SUFFIXES[suffix]
    raise InputError(f"{path}: cannot guess the format from '{suffix}'; name it with --from ({', '.join(READERS)})")


def guess_write_format(path: Path) -> str:
    """The writer for ``path``: by suffix; ``-`` is JSON Lines on stdout."""
    if str(path) == "-":
        return "jsonl"
    suffix = path.suffix.lower()
    if suffix in _WRITE_SUFFIXES:
        return _WRITE_SUFFIXES[suffix]
    raise InputError(
        f"{path}: cannot guess the output format from '{suffix}' (.json COCO, .jsonl JSON Lines, .csv, "
        ".xml or .zip CVAT)"
    )


def check_output_suffix(path: str | Path, fmt: str) -> None:
    """Refuse an output whose name says another format than ``fmt`` (``x.zip`` for CSV, ``a.csv`` for a
    folder format): one-line :class:`InputError`. ``-`` is always fine."""
    if str(path) == "-" or fmt not in OUTPUT_SUFFIXES:
        return
    suffix = Path(path).suffix.lower()
    allowed = OUTPUT_SUFFIXES[fmt]
    if suffix in allowed or ("" in allowed and suffix not in _WRITE_SUFFIXES):
        return
    wanted = "a folder" if allowed == ("",) else " or ".join(allowed)
    raise InputError(f"{path}: {fmt} output is {wanted}, not '{suffix or 'a name without suffix'}'")


def companion_paths(path: Path, fmt: str) -> list[Path]:
    """The files a writer puts beside ``path`` besides ``path`` itself (CVAT's label JSON, Label Studio's config)."""
    if fmt not in ("cvat", "labelstudio") or str(path) == "-":
        return []
    from garmentcli.io import cvat, labelstudio

    return [Path(path).with_suffix(cvat.LABELS_SUFFIX if fmt == "cvat" else labelstudio.CONFIG_SUFFIX)]


def read_annotations(
    path: str | Path,
    fmt: str | None = None,
    on_error: OnError | None = None,
    images: AnnotationSet | None = None,
) -> AnnotationSet:
    """Read annotations or predictions in any known format into an :class:`AnnotationSet`.

    ``on_error(message)`` is called once per bad entry, which is then skipped (default: raise
    :class:`FormatError`). ``images`` attaches a result list to those image records.
    """
    path = Path(path)
    fmt = fmt or guess_read_format(path)
    if fmt not in READERS:
        raise InputError(f"unknown input format {fmt!r} (known: {', '.join(READERS)})")
    on_error = on_error or raise_on_error
    if str(path) == "-" and fmt != "jsonl":
        return _read_stdin(fmt, on_error, images)
    if images is not None and fmt in ("coco", "results"):
        from garmentcli.io import coco

        data, keypoints = coco.load_coco_json(path)
        if not isinstance(data, list):
            raise FormatError(f"{path}: not a result list (expected a JSON list of detections)")
        return coco.results_to_set(data, str(path), on_error, images, keypoints)
    if not path.exists() and str(path) != "-":
        raise InputError(f"{path}: no such file or folder")
    return READERS[fmt](path, on_error)


_FOLDER_READERS = frozenset({"df2", "yolo"})
_STDIN_SUFFIXES = {"csv": ".csv", "fld": ".txt", "cvat": ".xml"}


def _read_stdin(fmt: str, on_error: OnError, images: AnnotationSet | None) -> AnnotationSet:
    """``-`` for a one-file format other than JSON Lines: standard input, read whole, as that format
    (messages name it ``<stdin>``)."""
    if fmt in _FOLDER_READERS:
        raise InputError(f"-: {fmt} input is a folder; standard input carries one file")
    data = sys.stdin.buffer.read()
    with tempfile.TemporaryDirectory(prefix="garmentkp-stdin-") as folder:
        path = Path(folder) / f"stdin{_STDIN_SUFFIXES.get(fmt, '.json')}"
        path.write_bytes(data)

        def named(message: str) -> str:
            return message.replace(str(path), "<stdin>")

        try:
            return read_annotations(path, fmt, lambda message: on_error(named(message)), images)
        except GarmentError as exc:
            raise type(exc)(named(str(exc))) from None


def write_annotations(aset: AnnotationSet, path: str | Path, fmt: str | None = None, **options: Any) -> None:
    """Write ``aset`` in ``fmt`` (guessed from the suffix when None), atomically; ``options`` go to the writer
    (``image_root`` for :data:`IMAGE_WRITERS`)."""
    path = Path(path)
    fmt = fmt or guess_write_format(path)
    if fmt not in WRITERS:
        raise InputError(f"unknown output format {fmt!r} (known: {', '.join(WRITERS)})")
    WRITERS[fmt](aset, path, **options)
