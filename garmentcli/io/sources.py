"""Turn what the user typed (folders, files, globs, ``-`` for stdin) into a list of images."""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from garmentcli.errors import InputError
from garmentcli.io.images import IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageSource:
    """An image file and the name it carries in outputs (its path relative to the input root)."""

    path: Path
    name: str


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _from_folder(folder: Path) -> list[ImageSource]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _is_image(p))
    return [ImageSource(p, p.relative_to(folder).as_posix()) for p in files]


def expand_sources(specs: Iterable[str], stdin_lines: Iterable[str] | None = None) -> list[ImageSource]:
    """Expand folders (recursively), files, glob patterns and ``-`` (paths on stdin) into images.

    Raises :class:`InputError` for a path that does not exist, or when nothing is found.
    Duplicates are dropped, first occurrence kept.
    """
    found: list[ImageSource] = []
    for spec in specs:
        if spec == "-":
            lines = stdin_lines if stdin_lines is not None else sys.stdin
            found += [ImageSource(Path(line.strip()), Path(line.strip()).name) for line in lines if line.strip()]
            continue
        path = Path(spec)
        if path.is_dir():
            found += _from_folder(path)
        elif path.is_file():
            found.append(ImageSource(path, path.name))
        elif glob.has_magic(spec):
            found += [
                ImageSource(Path(p), Path(p).name)
                for p in sorted(glob.glob(spec, recursive=True))
                if _is_image(Path(p))
            ]
        else:
            raise InputError(f"{spec}: no such file or folder")
    unique = list({source.path.resolve(): source for source in reversed(found)}.values())[::-1]
    if not unique:
        raise InputError(f"no images found in {', '.join(specs)}")
    return unique
