"""Writing a synthetic dataset: the DeepFashion2 split layout plus ``coco.json``, streamed and resumable.

Images are generated in worker processes (each a pure function of ``(seed, index)``) and written
by the parent as they arrive, in index order: ``image/000001.jpg`` and ``annos/000001.json``, each
atomically. ``coco.json`` (all finished images) is written at the end, also when the run is
interrupted, so an interrupted run keeps every image it finished and can be resumed.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2

from garmentcli.errors import InputError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.df2 import ANNOS_DIR, IMAGE_DIR, read_df2_anno, write_df2_anno
from garmentcli.io.formats import write_annotations
from garmentcli.schema.records import AnnotationSet, ImageRecord
from garmentcli.synth.scene import SynthConfig, generate

BOARD_FILE = "board.json"
"""The board layout written with ``--board``, at the dataset root (beside ``image/`` and ``annos/``)."""

_worker_config: SynthConfig | None = None


@dataclass
class WriteSummary:
    """What a run produced."""

    written: int = 0
    skipped: int = 0
    """Images already present (``resume``)."""
    failures: list[str] = field(default_factory=list)
    records: list[ImageRecord] = field(default_factory=list)


def render_one(config: SynthConfig, index: int) -> tuple[int, bytes, ImageRecord]:
    """Image ``index``: its JPEG bytes and record."""
    sample = generate(config, index)
    return index, sample.encode(), sample.record


def _init_worker(config: SynthConfig) -> None:
    global _worker_config
    _worker_config = config
    cv2.setNumThreads(1)


def _work(index: int) -> tuple[int, bytes, ImageRecord] | tuple[int, str]:
    assert _worker_config is not None
    try:
        return render_one(_worker_config, index)
    except Exception as exc:  # a generator bug must not stop the batch; it is reported per image
        return index, f"image {index + 1}: generation failed: {type(exc).__name__}: {exc}"


def _results(config: SynthConfig, indices: list[int], workers: int) -> Iterator[tuple]:
    if workers <= 1 or len(indices) < 2:
        _init_worker(config)
        yield from map(_work, indices)
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
        yield from pool.imap(_work, indices, chunksize=2)


def _existing(out: Path, index: int) -> ImageRecord | None:
    stem = f"{index + 1:06d}"
    anno, image = out / ANNOS_DIR / f"{stem}.json", out / IMAGE_DIR / f"{stem}.jpg"
    if not (anno.is_file() and image.is_file()):
        return None
    return read_df2_anno(anno, file_name=image.name)


def write_dataset(
    out: str | Path,
    config: SynthConfig,
    count: int,
    workers: int = 1,
    resume: bool = False,
    on_image: Callable[[int], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> WriteSummary:
    """Generate ``count`` images into ``out`` (``image/``, ``annos/``, ``coco.json``; ``board.json`` with a board).

    ``on_image(n)`` is called as images finish (for progress), ``on_failure(message)`` once per failed image.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    (out / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    (out / ANNOS_DIR).mkdir(parents=True, exist_ok=True)
    if config.board is not None:
        config = replace(config, board_file=BOARD_FILE)
        config.board.save(out / BOARD_FILE)
    summary = WriteSummary()
    done: dict[int, ImageRecord] = {}
    if resume:
        for index in range(count):
            record = _existing(out, index)
            if record is not None:
                record.width = record.height = config.size
                done[index] = record
        summary.skipped = len(done)
    todo = [i for i in range(count) if i not in done]
    try:
        for result in _results(config, todo, workers):
            if len(result) == 2:
                summary.failures.append(result[1])
                if on_failure is not None:
                    on_failure(result[1])
            else:
                index, jpeg, record = result
                with atomic_write(out / IMAGE_DIR / record.file_name, "wb") as handle:
                    handle.write(jpeg)
                write_df2_anno(record, out / ANNOS_DIR / f"{index + 1:06d}.json")
                done[index] = record
                summary.written += 1
            if on_image is not None:
                on_image(1)
    finally:
        summary.records = [done[i] for i in sorted(done)]
        info = {"info": {"description": "garmentkp synth", "seed": config.seed, "count": count}}
        write_annotations(AnnotationSet(summary.records, info), out / "coco.json", "coco")
    return summary
