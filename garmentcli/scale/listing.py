"""What a cluster run reads: the inputs listed on the driver and named as a local run names them.

Local inputs (files, folders, globs, ``-``) go through :func:`~garmentcli.io.sources.expand_sources`
unchanged, so names, ids and resume keys are a local run's; the workers read them at the same
absolute paths (a file system the nodes share). Object-store URIs (``s3://bucket/photos/``,
``gs://…``, ``file:///…``: anything :meth:`pyarrow.fs.FileSystem.from_uri` opens) are listed
with pyarrow and become :class:`RemoteSource` s, named by their path relative to the common root
of the inputs, as folders are.
"""

from __future__ import annotations

import glob
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garmentcli.errors import InputError
from garmentcli.io.images import IMAGE_SUFFIXES
from garmentcli.io.sources import ImageSource, expand_sources


@dataclass(frozen=True)
class RemoteSource(ImageSource):
    """An image in an object store: ``path`` is its path inside ``filesystem``, ``uri`` how messages name it."""

    uri: str = ""
    filesystem: Any = None
    """The :class:`pyarrow.fs.FileSystem` it is read through (picklable: it travels to the workers)."""


def is_uri(spec: str) -> bool:
    return "://" in spec


def list_images(specs: Sequence[str]) -> list[ImageSource]:
    """Local inputs as :func:`expand_sources` lists them, or object-store URIs listed with pyarrow (not both)."""
    uris = [spec for spec in specs if is_uri(spec)]
    if not uris:
        return expand_sources(specs)
    if len(uris) != len(specs):
        local = next(spec for spec in specs if not is_uri(spec))
        raise InputError(f"give either local inputs or URIs, not both ({local} and {uris[0]})")
    found = [image for spec in uris for image in _listed(spec)]
    unique = list({(item[0].type_name, item[1]): item for item in reversed(found)}.values())[::-1]
    if not unique:
        raise InputError(f"no images found in {', '.join(specs)}")
    root = posixpath.commonpath([anchor for _, _, anchor, _ in unique])
    return [RemoteSource(Path(path), posixpath.relpath(path, root), Path(root), uri, fs) for fs, path, _, uri in unique]


def _listed(spec: str) -> list[tuple[Any, str, str, str]]:
    """``(filesystem, path, anchor, uri)`` of each image of one URI: a folder's images anchored at the folder."""
    import pyarrow
    import pyarrow.fs as pafs

    if glob.has_magic(spec):
        raise InputError(f"{spec}: object stores are not globbed; give the folder (all its images are read)")
    try:
        fs, path = pafs.FileSystem.from_uri(spec)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            entries = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            files = [e.path for e in entries if e.type == pafs.FileType.File]
            paths = sorted(p for p in files if Path(p).suffix.lower() in IMAGE_SUFFIXES)
            base = spec.rstrip("/")
            return [(fs, p, path, f"{base}/{posixpath.relpath(p, path)}") for p in paths]
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{spec}: cannot list it ({exc})") from None
    if info.type == pafs.FileType.File:
        return [(fs, path, posixpath.dirname(path), spec)]
    raise InputError(f"{spec}: no such file or folder")
