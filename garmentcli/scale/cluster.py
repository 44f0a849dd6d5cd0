"""The Ray Data pipeline behind ``--engine ray``: read and decode in tasks, detect in an actor pool.

``images -> read_block (Ray tasks, no CPU reserved: decoding is a tenth of the work) ->
DetectWorker (an actor pool of --ray-actors, each holding one Predictor: one onnxruntime session
with one thread on one CPU, or one GPU) -> the driver``. Blocks reach the driver in input order
(``preserve_order``) and only once each: a task whose worker dies is retried by Ray Data (actors
are restarted, their calls retried), and a block's result is handed over only when it is complete.
The actors build their :class:`~garmentcli.runtime.predictor.Predictor` from the same options as a
local run and refuse to start when their garmentkp or model file differs from the driver's, so every
node decodes alike. No scheduler of our own: Ray Data streams, backpressures and retries.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from garmentcli import __version__
from garmentcli.errors import GarmentError, ImageReadError, InputError, MissingDependencyError
from garmentcli.io.images import decode_image, read_image
from garmentcli.io.jsonl import image_to_json
from garmentcli.io.sources import ImageSource
from garmentcli.models.codec import DecodeOptions
from garmentcli.scale.listing import RemoteSource
from garmentcli.schema.records import ImageRecord

INSTALL = "--engine ray needs Ray, which is optional: pip install 'garmentkp[ray]' -c constraints.txt"

MAX_BLOCK = 64
"""At most this many images per block (and so per shard): a killed worker loses at most one block's work, and a
block of decoded photos stays well inside the object store (64 decoded 12-megapixel photos: 2.3 GB)."""

ACTOR_CPUS = 1
"""CPUs (and onnxruntime threads) per actor: one single-threaded session per core (docs/scale.md says why)."""

_NO_IMAGE = np.zeros((0, 0, 3), np.uint8)
"""Stands in the image column for an image that could not be read (its row carries the failure)."""


def require_ray() -> Any:
    """Import ray and Ray Data, or say in one line how to install them."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(INSTALL) from exc
    return ray


@dataclass(frozen=True)
class PredictorSpec:
    """How every actor builds its :class:`~garmentcli.runtime.predictor.Predictor`: a local run's options."""

    model: str
    backend: str = "onnx"
    device: str = "cpu"
    options: DecodeOptions = field(default_factory=DecodeOptions)
    batch_size: int = 8
    flip: bool = False
    refine: bool = False
    version: str = __version__
    settings: dict[str, Any] = field(default_factory=dict)
    """The driver's :func:`~garmentcli.runtime.output.detection_settings` (the model's hash among them): an actor
    whose predictor's differ refuses to start."""

    @classmethod
    def of(cls, predictor: Any, model: str, device: str) -> PredictorSpec:
        """The spec of a predictor built on the driver from ``--model model``, for actors on ``device``."""
        from garmentcli.runtime.output import detection_settings

        return cls(
            model,
            predictor.backend.name,
            device,
            predictor.options,
            predictor.batch_size,
            predictor.flip,
            predictor.refine,
            settings=detection_settings(predictor),
        )


@dataclass(frozen=True)
class MeasureSpec:
    """What the actors need to measure each photo right after detecting it, as ``measure`` does: the
    calibrator and definitions built (and checked) on the driver, travelling pickled."""

    calibrator: Any
    definitions: Any
    min_confidence: float


def read_block(batch: dict[str, np.ndarray], filesystems: Sequence[Any]) -> dict[str, Any]:
    """Ray task: read and decode each image of a block; a failure is that row's one-line message."""
    from garmentcli.runtime.predictor import failure_message

    images, failures = [], []
    for location, shown, index in zip(batch["location"], batch["shown"], batch["filesystem"], strict=True):
        try:
            if index < 0:
                image = read_image(location, where=shown)
            else:
                image = decode_image(_object_bytes(filesystems[index], location, shown), shown)
        except Exception as exc:  # every per-image failure is reported, never fatal
            images.append(_NO_IMAGE)
            failures.append(failure_message(str(shown), exc))
        else:
            images.append(image)
            failures.append("")
    return {**batch, "image": images, "failure": np.array(failures, dtype=object)}


def _object_bytes(filesystem: Any, path: str, shown: str) -> bytes:
    import pyarrow

    try:
        with filesystem.open_input_stream(path) as stream:
            return stream.readall()
    except (pyarrow.ArrowException, OSError) as exc:
        raise ImageReadError(f"{shown}: cannot read it ({exc})") from None


class DetectWorker:
    """Ray actor: one :class:`~garmentcli.runtime.predictor.Predictor` detecting the decoded images of a block.

    Each row becomes its JSON Lines line (the record a local run writes for it), or passes its
    failure on. With ``measuring`` each photo is also calibrated and measured here, where its pixels
    are, by :func:`~garmentcli.measure.batch.measure_items` as ``measure`` runs it locally.
    """

    def __init__(self, spec: PredictorSpec, measuring: MeasureSpec | None = None) -> None:
        from garmentcli.runtime.output import detection_settings, settings_difference
        from garmentcli.runtime.predictor import Predictor

        os.environ["GARMENTKP_THREADS"] = str(ACTOR_CPUS)  # the session's threads on the CPUs Ray gave this actor
        if spec.version != __version__:
            raise InputError(f"a Ray node runs garmentkp {__version__}, the driver {spec.version}: install one on all")
        self.predictor = Predictor(
            spec.model, spec.backend, spec.device, spec.options, spec.batch_size, spec.flip, 1, spec.refine
        )
        differences = settings_difference(spec.settings, detection_settings(self.predictor))
        if differences:  # another model file here, or an option the spec does not carry
            raise InputError(f"a Ray node's predictor differs from the driver's ({'; '.join(differences)})")
        self.measuring = measuring

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        readable = [i for i, failure in enumerate(batch["failure"]) if not failure]
        lines = [b""] * len(batch["failure"])
        rows, notes = [b""] * len(lines), [b""] * len(lines)
        garments = np.zeros(len(lines), np.int64)
        size = self.predictor.batch_size
        for start in range(0, len(readable), size):
            chunk = readable[start : start + size]
            images = [batch["image"][i] for i in chunk]
            for i, image, found in zip(chunk, images, self.predictor.predict(images), strict=True):
                height, width = image.shape[:2]
                record = ImageRecord(int(batch["id"][i]), str(batch["name"][i]), width, height, found)
                lines[i] = orjson.dumps(image_to_json(record))
                garments[i] = len(found)
                if self.measuring is not None:
                    rows[i], notes[i] = self._measured(record, image)
        return {
            "position": batch["position"],
            "failure": batch["failure"],
            "line": np.array(lines, dtype=object),
            "garments": garments,
            "rows": np.array(rows, dtype=object),
            "notes": np.array(notes, dtype=object),
        }

    def _measured(self, record: ImageRecord, image: np.ndarray) -> tuple[bytes, bytes]:
        """One photo's measurement rows (pickled) and its failures and warnings (``[kind, text]`` pairs, JSON)."""
        from garmentcli.measure.batch import ImageItem, measure_items

        assert self.measuring is not None
        said: list[tuple[str, str]] = []
        found = measure_items(
            [ImageItem(record, image=image)],
            self.measuring.calibrator,
            self.measuring.definitions,
            lambda text: said.append(("failure", text)),
            lambda text: said.append(("warning", text)),
            self.measuring.min_confidence,
        )
        return pickle.dumps(list(found)), orjson.dumps(said)


@dataclass
class Block:
    """One finished block on the driver: positions into the run's images, and for each its JSON Lines line and
    garment count, or its failure; when measuring also its rows (pickled) and messages (JSON)."""

    positions: list[int]
    lines: list[bytes]
    garments: list[int]
    failures: list[str]
    rows: list[bytes]
    notes: list[bytes]


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """Connect to the Ray cluster at ``address`` (None: start one on this machine) for the body; disconnect after."""
    ray = require_ray()
    env = {k: v for k, v in os.environ.items() if k.startswith("GARMENTKP_") and k != "GARMENTKP_THREADS"}
    try:
        ray.init(
            address=address or "local",
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
            runtime_env={"env_vars": env} if env else None,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"--ray-address {address}: no Ray cluster there" if address else "Ray cannot start on this machine"
        raise InputError(f"{where} ({_innermost_message(exc)})") from None
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # its errors reach the user as our one line
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.execution_options.preserve_order = True
    try:
        yield ray
    finally:
        ray.shutdown()


def default_actors(ray: Any, device: str) -> int:
    """One actor per CPU of the cluster (per GPU with ``--device cuda``)."""
    return max(1, int(ray.cluster_resources().get("GPU" if device == "cuda" else "CPU", 1)))


def detect_blocks(
    ray: Any,
    sources: Sequence[ImageSource],
    ids: Sequence[int],
    spec: PredictorSpec,
    actors: int,
    measuring: MeasureSpec | None = None,
) -> Iterator[Block]:
    """Run the pipeline over ``sources`` (with their image ``ids``) on the connected cluster, block by block
    (measuring each photo too, with ``measuring``)."""
    filesystems = list({id(s.filesystem): s.filesystem for s in sources if isinstance(s, RemoteSource)}.values())
    index = {id(fs): i for i, fs in enumerate(filesystems)}
    rows = [
        {
            "position": position,
            "location": str(source.path if isinstance(source, RemoteSource) else source.path.absolute()),
            "shown": source.uri if isinstance(source, RemoteSource) else str(source.path),
            "filesystem": index[id(source.filesystem)] if isinstance(source, RemoteSource) else -1,
            "id": image_id,
            "name": source.name,
        }
        for position, (source, image_id) in enumerate(zip(sources, ids, strict=True))
    ]
    if not rows:
        return
    per_block = min(MAX_BLOCK, max(spec.batch_size, math.ceil(len(rows) / (8 * actors))))
    gpu = spec.device == "cuda"
    data = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / per_block))
    data = data.map_batches(
        read_block,
        fn_kwargs={"filesystems": filesystems},
        batch_size=per_block,
        num_cpus=0,
        compute=ray.data.TaskPoolStrategy(size=actors + 1),
    )
    data = data.map_batches(
        DetectWorker,
        fn_constructor_args=(spec, measuring),
        batch_size=per_block,
        num_cpus=ACTOR_CPUS,
        num_gpus=1 if gpu else None,
        compute=ray.data.ActorPoolStrategy(size=actors),
    )
    try:
        for batch in data.iter_batches(batch_size=None, batch_format="numpy"):
            positions, garments = batch["position"].tolist(), batch["garments"].tolist()
            lines, failures, rows, notes = (list(batch[key]) for key in ("line", "failure", "rows", "notes"))
            yield Block(positions, lines, garments, failures, rows, notes)
    except ray.exceptions.RayError as exc:
        raise InputError(f"the Ray run failed: {_innermost_message(exc)}") from None


def _innermost_message(exc: BaseException) -> str:
    """The message of the garmentkp error behind a Ray error (an actor's refusal, say), else the last line of the
    innermost cause's message: Ray wraps a worker's exception in several layers, each with its traceback."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, GarmentError):
            return str(error)
        links = (error.__cause__, error.__context__, getattr(error, "cause", None))
        stack += [link for link in links if isinstance(link, BaseException)]
    ours = re.findall(r"garmentcli\.errors\.\w+: (.+)", str(exc))
    if ours:
        return ours[-1]
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
