"""Turn what the user typed (folders, files, globs, ``-`` for stdin) into a list of images."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from garmentcli.errors import InputError
from garmentcli.io.images import IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageSource:
    """An image file and the name it carries in outputs (its path relative to the common root of the inputs)."""

    path: Path
    name: str
    root: Path | None = None
    """The folder ``name`` is relative to (None when the source was made by hand)."""


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


def _walk(folder: Path) -> list[Path]:
    """The image files under ``folder``, sorted, following symlinked sub-folders (each real folder once, so
    a link back up the tree is not a loop)."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        try:
            status = os.stat(top)
        except OSError:
            dirs[:] = []
            continue
        key = (status.st_dev, status.st_ino)
        if key in seen:
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        found += [Path(top) / name for name in files if _is_image(Path(name)) and (Path(top) / name).is_file()]
    return sorted(found)


def _identity(path: Path) -> Path:
    """What makes two inputs the same file: the resolved path, or the absolute one where resolving fails
    (a symlink loop: reading it is then that input's own one-line failure)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return _absolute(path)


def _found(spec: str, stdin_lines: Iterable[str] | None) -> list[tuple[Path, Path]]:
    """``(image, anchor)`` pairs of one input: a folder's images anchored at the folder, a file at its own folder."""
    if spec == "-":
        lines = stdin_lines if stdin_lines is not None else sys.stdin
        paths = [Path(line.strip()) for line in lines if line.strip()]
        return [(p, p.parent) for p in paths]
    path = Path(spec)
    if path.is_dir():
        return [(p, path) for p in _walk(path)]
    if path.is_file():
        return [(path, path.parent)]
    if glob.has_magic(spec):
        return [(Path(p), Path(p).parent) for p in sorted(glob.glob(spec, recursive=True)) if _is_image(Path(p))]
    raise InputError(f"{spec}: no such file or folder")


def expand_sources(specs: Iterable[str], stdin_lines: Iterable[str] | None = None) -> list[ImageSource]:
    """Expand folders (recursively), files, glob patterns and ``-`` (paths on stdin) into images.

    Folders are scanned with their symlinked sub-folders (every real folder once). Each image is named
    by its path relative to the common root of the inputs (the folder for one
    folder, the deepest folder holding every input otherwise), so two files of the same name in two
    folders keep two names: ``detect a/image/1.jpg b/image/1.jpg`` names them ``a/image/1.jpg`` and
    ``b/image/1.jpg``. Raises :class:`InputError` for a path that does not exist, or when nothing is
    found. Duplicates are dropped, first occurrence kept.
    """
    specs = list(specs)
    found = [pair for spec in specs for pair in _found(spec, stdin_lines)]
    unique = list({_identity(image): (image, anchor) for image, anchor in reversed(found)}.values())[::-1]
    if not unique:
        raise InputError(f"no images found in {', '.join(specs)}")
    root = Path(os.path.commonpath([_absolute(anchor) for _, anchor in unique]))
    return [ImageSource(image, _absolute(image).relative_to(root).as_posix(), root) for image, _ in unique]
