"""Where detections go while a run is in progress, so an interrupted run keeps what it finished.

JSON Lines outputs (and ``-``) are appended to directly, one flushed line per image. Any other
output (``.json`` COCO, ``.csv`` …) streams into a hidden sidecar ``.NAME.partial.jsonl`` beside
it; :meth:`DetectionSink.finish` writes the final file atomically from the sidecar and removes it.
With ``resume`` the images already in the sidecar (or in a finished output) are reported by
:attr:`DetectionSink.done` so the caller skips them.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from garmentcli.errors import InputError
from garmentcli.io.formats import guess_write_format, read_annotations, write_annotations
from garmentcli.io.jsonl import JsonlAppender, read_done_names, read_jsonl
from garmentcli.schema.records import ImageRecord


def sidecar_path(output: Path) -> Path:
    """The streaming sidecar of a non-JSONL output."""
    return output.with_name(f".{output.name}.partial.jsonl")


class DetectionSink:
    """Streams :class:`ImageRecord` s towards ``output``; use as a context manager, then :meth:`finish`."""

    def __init__(self, output: str | Path, resume: bool = False) -> None:
        self.output = Path(output)
        self.to_stdout = str(output) == "-"
        if self.to_stdout and resume:
            raise InputError("--resume needs an output file, not '-' (standard output)")
        self.format = guess_write_format(self.output)
        self.direct = self.to_stdout or self.format == "jsonl"
        self.stream = self.output if self.direct else sidecar_path(self.output)
        self.done: set[str] = set()
        if resume:
            self.done = self._resume_state()
        elif not self.to_stdout:
            self.stream.unlink(missing_ok=True)
        self._appender = JsonlAppender("-" if self.to_stdout else self.stream)
        self._open = True

    def _resume_state(self) -> set[str]:
        """Names already done; a finished non-JSONL output is moved back into the sidecar to continue."""
        if not self.direct and not self.stream.exists() and self.output.exists():
            finished = read_annotations(self.output, self.format)
            with JsonlAppender(self.stream) as seed:
                for record in finished:
                    seed.append(record)
        return read_done_names(self.stream)

    def append(self, record: ImageRecord) -> None:
        self._appender.append(record)

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
