"""``detect --engine ray`` and ``measure --engine ray`` on the driver: what the commands call.

:class:`ClusterDetection` slots into ``detect`` where the local :class:`Predictor` streams its
records: the same sources, ids, output lock, :class:`~garmentcli.runtime.output.DetectionSink`
(settings record, resume refusal, final writers) and one-line failures; only where the images come
from differs (the cluster, through the shards of :mod:`garmentcli.scale.shards`), and they come as
the JSON Lines lines the workers wrote, which the driver passes on without parsing them.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from garmentcli.errors import ImageReadError, InputError
from garmentcli.io.sources import ImageSource
from garmentcli.measure.runner import GarmentMeasurements
from garmentcli.scale.cluster import (
    Block,
    MeasureSpec,
    PredictorSpec,
    connected,
    default_actors,
    detect_blocks,
    require_ray,
)
from garmentcli.scale.shards import ShardFolder

ErrorHandler = Callable[[ImageSource, Exception], None]


def _blocks(
    sources: Sequence[ImageSource],
    ids: Sequence[int],
    spec: PredictorSpec,
    on_error: ErrorHandler,
    address: str | None,
    actors: int | None,
    measuring: MeasureSpec | None = None,
) -> Iterator[Block]:
    """The finished blocks of a cluster run over ``sources``, in input order, once their unreadable images went
    to ``on_error(source, error)`` as one-line :class:`ImageReadError` s."""
    with connected(address) as ray:
        pool = actors if actors is not None else default_actors(ray, spec.device)
        for block in detect_blocks(ray, sources, ids, spec, pool, measuring):
            for position, failure in zip(block.positions, block.failures, strict=True):
                if failure:
                    on_error(sources[position], ImageReadError(failure))
            yield block


def cluster_lines(
    sources: Sequence[ImageSource],
    ids: Sequence[int],
    spec: PredictorSpec,
    on_error: ErrorHandler,
    address: str | None,
    actors: int | None,
    on_block: Callable[[list[bytes]], None] | None = None,
) -> Iterator[tuple[bytes, int]]:
    """Each image of ``sources`` detected on the cluster, in input order, as its JSON Lines line and garment
    count (unreadable ones go to ``on_error``). ``on_block`` sees each finished block's lines before they are
    handed on."""
    for block in _blocks(sources, ids, spec, on_error, address, actors):
        done = [(line, count) for line, count in zip(block.lines, block.garments, strict=True) if line]
        if on_block is not None:
            on_block([line for line, _ in done])
        yield from done


def cluster_measurements(
    sources: Sequence[ImageSource],
    predictor: Any,
    model: str,
    measuring: MeasureSpec,
    on_failure: Callable[[str], None],
    on_warning: Callable[[str], None],
    address: str | None,
    actors: int | None,
    on_image: Callable[[], None],
) -> Iterator[GarmentMeasurements]:
    """``measure``'s rows for photos detected, calibrated and measured on the cluster: the rows, failures and
    warnings a local run gives (ids ``0..n-1`` as :func:`~garmentcli.measure.batch.detected_items` gives
    them), in input order; ``on_image`` is called once per photo. Ray must be installed (:func:`require_ray`)
    before this runs."""
    from garmentcli.runtime.predictor import failure_message

    spec = PredictorSpec.of(predictor, model, predictor.backend.device)

    def report(source: ImageSource, exc: Exception) -> None:
        on_failure(failure_message(source, exc))

    for block in _blocks(sources, range(len(sources)), spec, report, address, actors, measuring):
        for rows, notes in zip(block.rows, block.notes, strict=True):
            for kind, text in orjson.loads(notes) if notes else ():
                (on_failure if kind == "failure" else on_warning)(text)
            yield from pickle.loads(rows) if rows else ()
            on_image()


class ClusterDetection:
    """``detect``'s images from a Ray cluster, kept in shards beside ``output`` as they come.

    Open it inside the output's lock; :attr:`done` are the names its shards hold (with ``resume``),
    :meth:`lines` streams the rest, and :meth:`finish` drops the shards once the output is written.
    """

    def __init__(
        self,
        output: str,
        resume: bool,
        run: dict[str, Any],
        predictor: Any,
        model: str,
        device: str,
        address: str | None,
        actors: int | None,
    ) -> None:
        self.spec = PredictorSpec.of(predictor, model, device)
        self.address, self.actors = address, actors
        self.shards = ShardFolder(Path(output), resume, run)
        self.done = self.shards.done

    @staticmethod
    def check(output: str, viz: Path | None) -> None:
        """Refuse, before anything is written, what a cluster run cannot do (and a missing Ray)."""
        require_ray()
        if output == "-":
            raise InputError("--engine ray needs an output file, not '-' (standard output)")
        if viz is not None:
            raise InputError("--viz draws overlays with the local engine only: draw them later with garmentkp draw")

    def lines(
        self, sources: Sequence[ImageSource], ids: Sequence[int], on_error: ErrorHandler, received: set[str]
    ) -> Iterator[tuple[bytes, int]]:
        """JSON Lines lines and garment counts: first those of the shards the output has not ``received``, then
        those of ``sources`` from the cluster, each block kept in a shard before it is handed on."""
        yield from self.shards.lines(received)
        if sources:
            yield from cluster_lines(sources, ids, self.spec, on_error, self.address, self.actors, self.shards.write)

    def finish(self) -> None:
        self.shards.remove()
