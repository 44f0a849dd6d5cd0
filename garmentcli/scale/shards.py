"""A cluster run's results on disk: one JSON Lines shard per finished block, beside the output.

``OUT``'s sidecar folder ``.NAME.shards/`` holds ``run.json`` (the run record, as the output
records it: settings that a ``--resume`` must match) and a ``block-<ns>.jsonl`` per block, each
written atomically (:func:`~garmentcli.io.atomic.atomic_write`): a shard is whole or absent, so
the images in the shards are done, whatever killed the run. The records also stream into the
output's :class:`~garmentcli.runtime.output.DetectionSink`, which writes the requested format; a
finished run removes the folder. A resumed run skips the images of the shards and first hands on
the records the output has not received yet (those of the blocks finished just before the run was
stopped), so every image is in the output exactly once.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from garmentcli.io.atomic import atomic_write
from garmentcli.io.jsonl import read_done_names
from garmentcli.runtime.output import check_resumed_settings


def shard_folder(output: str | Path) -> Path:
    """The sidecar folder of a cluster run writing ``output``."""
    output = Path(output)
    return output.with_name(f".{output.name}.shards")


class ShardFolder:
    """The shards of a cluster run writing ``output``; with ``resume`` the finished ones count as done
    (after checking that ``run``'s settings are those they were made with)."""

    def __init__(self, output: str | Path, resume: bool, run: dict[str, Any]) -> None:
        self.output = Path(output)
        self.folder = shard_folder(output)
        self.run_file = self.folder / "run.json"
        if not resume:
            shutil.rmtree(self.folder, ignore_errors=True)
        elif self.run_file.is_file():
            check_resumed_settings(self.output, orjson.loads(self.run_file.read_bytes()), run)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.run_file.is_file():
            with atomic_write(self.run_file, "wb") as handle:
                handle.write(orjson.dumps(run, option=orjson.OPT_INDENT_2) + b"\n")
        self.done: set[str] = set()
        for shard in self.shards():
            self.done |= read_done_names(shard)

    def shards(self) -> list[Path]:
        """The finished shards, oldest first."""
        return sorted(self.folder.glob("block-*.jsonl"))

    def write(self, lines: list[bytes]) -> None:
        """One finished block's JSON Lines lines, as one shard written atomically."""
        if lines:
            with atomic_write(self.folder / f"block-{time.time_ns():020d}.jsonl", "wb") as handle:
                handle.write(b"".join(line + b"\n" for line in lines))

    def lines(self, skip: set[str]) -> Iterator[tuple[bytes, int]]:
        """The lines (and garment counts) of the finished shards whose images are not in ``skip``."""
        for shard in self.shards():
            for line in shard.read_bytes().splitlines():
                entry = orjson.loads(line)
                if entry["file_name"] not in skip:
                    yield line, len(entry["garments"])

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
