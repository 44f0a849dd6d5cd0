"""Where detections go while a run is in progress, so an interrupted run keeps what it finished.

JSON Lines outputs (and ``-``) are appended to directly, one flushed line per image. Any other
output (``.json`` COCO, ``.csv`` …) streams into a hidden sidecar ``.NAME.partial.jsonl`` beside
it; :meth:`DetectionSink.finish` writes the final file atomically from the sidecar and removes it.
With ``resume`` the images already in the sidecar (or in a finished output) are reported by
:attr:`DetectionSink.done` so the caller skips them.

The output records the run (``run``, kept under :data:`~garmentcli.schema.records.RUN_KEY`: on the
first JSON Lines line, at the top level of a COCO file). An output with no place for it (CSV, CVAT)
records it in a hidden file beside it, ``.NAME.run.json`` (:func:`run_file_path`), written
atomically when a fresh run starts and read back on resume. Its
``settings`` are the options that shape the results; a resumed run whose settings differ from
the recorded ones is refused with one line naming them, so one output never mixes two settings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from garmentcli import __version__
from garmentcli.errors import InputError
from garmentcli.io.atomic import atomic_write
from garmentcli.io.formats import guess_write_format, read_annotations, write_annotations
from garmentcli.io.jsonl import JsonlAppender, read_done_names, read_jsonl, read_run, with_run
from garmentcli.schema.records import RUN_KEY, ImageRecord


def sidecar_path(output: Path) -> Path:
    """The streaming sidecar of a non-JSONL output."""
    return output.with_name(f".{output.name}.partial.jsonl")


HOLDS_RUN = frozenset({"coco", "jsonl"})
"""Output formats that record the run themselves; the others get a :func:`run_file_path` beside them."""


def run_file_path(output: str | Path) -> Path:
    """Where the run of an output that cannot hold it (CSV, CVAT) is recorded: ``.NAME.run.json`` beside it."""
    output = Path(output)
    return output.with_name(f".{output.name}.run.json")


def read_run_file(output: str | Path) -> dict[str, Any] | None:
    """The run recorded beside ``output`` (:func:`run_file_path`), or None when there is none (or it is unreadable)."""
    try:
        run = orjson.loads(run_file_path(output).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return run if isinstance(run, dict) else None


def detection_settings(predictor: Any) -> dict[str, Any]:
    """The settings of a :class:`~garmentcli.runtime.predictor.Predictor` that shape its results:
    the model and its file's SHA-256, every decoding option, flip and refine, the top-down landmark model and its
    SHA-256 (None without one), ``masks`` when on (not the backend, device, batch size or threads)."""
    from garmentcli.models.registry import model_sha256

    landmarker = predictor.landmarker
    landmarks = None if landmarker is None else landmarker.model
    return {
        "model": predictor.model.name,
        "model_sha256": model_sha256(predictor.model),
        **dataclasses.asdict(predictor.options),
        "flip": predictor.flip,
        "refine": predictor.refine,
        "landmarks": None if landmarker is None else landmarks.name if landmarks is not None else "in-memory",
        "landmarks_sha256": None if landmarks is None else model_sha256(landmarks),
        **({"masks": True} if predictor.masks else {}),  # only when on: earlier outputs still resume
    }


def run_record(settings: dict[str, Any], image_root: Path | None = None) -> dict[str, Any]:
    """What an output records about the run that wrote it."""
    run: dict[str, Any] = {"garmentkp": __version__, "settings": settings}
    if image_root is not None:
        run["image_root"] = str(image_root)
    return run


def settings_difference(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """``name recorded -> wanted`` for each setting both know and that differs."""
    return [
        f"{key} {recorded[key]!r} -> {wanted[key]!r}"
        for key in wanted
        if key in recorded and recorded[key] != wanted[key]
    ]


def check_resumed_settings(output: str | Path, recorded: dict[str, Any] | None, run: dict[str, Any] | None) -> None:
    """Refuse (:class:`InputError`, one line naming the differences) to resume ``output``, whose run recorded
    ``recorded``, with the settings of ``run``; nothing to check when either records none."""
    before = (recorded or {}).get("settings")
    wanted = (run or {}).get("settings")
    if not before or not wanted:
        return
    differences = settings_difference(before, wanted)
    if differences:
        raise InputError(
            f"{output}: --resume with other settings than the output was made with "
            f"({'; '.join(differences)}): resume with the same options, or write to a new output"
        )


class DetectionSink:
    """Streams :class:`ImageRecord` s towards ``output``; use as a context manager, then :meth:`finish`.

    ``run`` (:func:`run_record`) is recorded in the output; with ``resume`` its settings must be
    those the output was made with (:class:`InputError` naming the differences otherwise).
    """

    def __init__(self, output: str | Path, resume: bool = False, run: dict[str, Any] | None = None) -> None:
        self.output = Path(output)
        self.to_stdout = str(output) == "-"
        if self.to_stdout and resume:
            raise InputError("--resume needs an output file, not '-' (standard output)")
        self.format = guess_write_format(self.output)
        self.direct = self.to_stdout or self.format == "jsonl"
        self.stream = self.output if self.direct else sidecar_path(self.output)
        self.run_file = None if self.to_stdout or self.format in HOLDS_RUN else run_file_path(self.output)
        self.done: set[str] = set()
        self.recorded: dict[str, Any] | None = None
        """What the output being resumed recorded about its run (None: nothing, e.g. an older garmentkp's CSV)."""
        if resume:
            self.done = self._resume_state(run)
        elif not self.to_stdout:
            self.stream.unlink(missing_ok=True)
        if self.run_file is not None and run is not None and not self.done:  # a fresh output: record its run
            with atomic_write(self.run_file, "wb") as handle:
                handle.write(orjson.dumps(run, option=orjson.OPT_INDENT_2) + b"\n")
        self._run = run if not self.done else None  # the first line written records the run
        self._appender = JsonlAppender("-" if self.to_stdout else self.stream)
        self._open = True

    def _resume_state(self, run: dict[str, Any] | None) -> set[str]:
        """Names already done; a finished non-JSONL output is moved back into the sidecar to continue."""
        if not self.direct and not self.stream.exists() and self.output.exists():
            finished = read_annotations(self.output, self.format)
            self.recorded = finished.info.get(RUN_KEY)
            if self.recorded is None and self.run_file is not None:
                self.recorded = read_run_file(self.output)
            self._check(run)
            with JsonlAppender(self.stream) as seed:
                for index, record in enumerate(finished):
                    seed.append(with_run(record, self.recorded) if index == 0 else record)
        else:
            self.recorded = read_run(self.stream)
            if self.recorded is None and self.run_file is not None:
                self.recorded = read_run_file(self.output)
            self._check(run)
        return read_done_names(self.stream)

    def _check(self, run: dict[str, Any] | None) -> None:
        check_resumed_settings(self.output, self.recorded, run)

    def append(self, record: ImageRecord | bytes) -> None:
        """Stream one image: its record, or its JSON Lines line already serialised (as cluster workers send it,
        so the driver does not parse and re-serialise every image)."""
        if isinstance(record, bytes):
            line = record if self._run is None else orjson.dumps({RUN_KEY: self._run, **orjson.loads(record)})
            self._appender.append_line(line)
        else:
            self._appender.append(with_run(record, self._run))
        self._run = None

    def finish(self) -> None:
        """Close the stream; for non-JSONL outputs write the final file atomically and drop the sidecar."""
        self._close()
        if not self.direct:
            write_annotations(read_jsonl(self.stream), self.output, self.format)
            self.stream.unlink()

    def __enter__(self) -> DetectionSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._close()  # on an error the sidecar stays: --resume continues from it

    def _close(self) -> None:
        if self._open:
            self._open = False
            self._appender.close()
