"""What every command shares: the stderr console, progress bars, and the exit-code contract.

Exit codes: 0 everything worked, 1 user error (bad arguments, unreadable input), 2 partial
failure (some files failed; results for the rest were written).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from garmentcli.choices import AUTO_PRECISION, BACKEND_NAMES, DEVICES, PRECISIONS
from garmentcli.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

EXIT_OK, EXIT_USER_ERROR, EXIT_PARTIAL = 0, 1, 2
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT), as shells report it: 128 + 2."""


@functools.cache
def console() -> Console:
    """The stderr console: messages, warnings and progress go to stderr so stdout stays clean for piped data.

    Made on first use, so that a command that prints nothing does not load rich.
    """
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@dataclass
class CliState:
    """Options of the main callback that every command may read."""

    quiet: bool = False


STATE = CliState()


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


FAILURES_HELP = "Also write the failed inputs with their reasons here: INPUT<TAB>REASON, one line each."


def choices(name: str, values: Iterable[str]) -> Any:
    """A ``str`` Enum of ``values`` for an option's type: ``--help`` lists them and a wrong value is a usage
    error before any work starts (the option's ``.value`` is the plain string)."""
    return enum.Enum(name, {value: value for value in values}, type=str)


BackendName = choices("BackendName", BACKEND_NAMES)
"""``--backend``: one of :data:`~garmentcli.choices.BACKEND_NAMES`."""
DeviceName = choices("DeviceName", DEVICES)
"""``--device``: one of :data:`~garmentcli.choices.DEVICES`."""
PrecisionName = choices("PrecisionName", (AUTO_PRECISION, *PRECISIONS))
"""``--precision``: ``auto`` or one of :data:`~garmentcli.choices.PRECISIONS`."""
ONNX, CPU, AUTO = BackendName("onnx"), DeviceName("cpu"), PrecisionName(AUTO_PRECISION)
"""The defaults of ``--backend``, ``--device`` and ``--precision``."""
PRECISION_HELP = (
    "auto: the model's int8 variant (NAME-int8) with onnxruntime on the CPU, where it is faster, when the model has "
    "one, else float32; float32: the float model; int8: its int8 variant (garmentkp quantize makes one)."
)


def with_precision(model: str, precision: Any, backend: Any, device: Any) -> str:
    """The model spec that ``--model``, ``--precision``, ``--backend`` and ``--device`` run (a one-line error when
    ``--precision int8`` names a model without an int8 variant)."""
    from garmentcli.models.registry import precision_spec

    return precision_spec(model, precision.value, backend.value, device.value)


def card_fields(path: Path | None) -> dict[str, Any]:
    """``training``/``metrics`` entries to merge into the card, from a JSON file."""
    if path is None:
        return {}
    from garmentcli.io.jsonio import load_json

    data = load_json(path)
    unknown = set(data) - {"training", "metrics"} if isinstance(data, dict) else {"<not an object>"}
    if unknown:
        raise InputError(f"{path}: only 'training' and 'metrics' may be given, not {', '.join(sorted(unknown))}")
    return data


def _print(markup: str, message: str) -> None:
    """``markup`` (a rich-styled prefix) then ``message`` as it is, on one line of stderr."""
    from rich.markup import escape

    console().print(markup + escape(message), soft_wrap=True)


def error(message: str) -> None:
    """Print a one-line error (the message should name the file and entry)."""
    _print("[red]error:[/] ", message)


def warn(message: str) -> None:
    _print("[yellow]warning:[/] ", message)


def info(message: str) -> None:
    if not STATE.quiet:
        _print("", message)


def os_error_message(exc: OSError, path: str | Path | None = None) -> str:
    """One line for a file the system refused: ``PATH: cannot write there (Permission denied)`` and the like."""
    where = path if path is not None else exc.filename
    reason = exc.strerror or type(exc).__name__
    return f"{where}: {reason}" if where is not None else reason


def silence_opencv() -> None:
    """Keep OpenCV's own ``[ WARN:0@…]`` lines (printed by its C++ code) off the terminal.

    OpenCV reads ``OPENCV_LOG_LEVEL`` when it is imported, so a command that never needs it does not load it.
    """
    os.environ["OPENCV_LOG_LEVEL"] = "ERROR"
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def interrupted(done: int, total: int, what: str, output: str | Path, resumable: bool = True) -> typer.Exit:
    """Say how far an interrupted run got and how to go on; the exit to raise (code 130)."""
    how = "; run the same command again with --resume to finish" if resumable else ""
    warn(f"interrupted: {done} of {total} {what} done, kept in {output}{how}")
    return typer.Exit(EXIT_INTERRUPTED)


class NoProgress:
    """What :func:`make_progress` gives when no bar would show: the calls the commands make on rich's
    ``Progress``, doing nothing, so that a scripted run does not load rich for a bar it never draws."""

    disable = True

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None

    advance = reset = update


def make_progress() -> Progress | NoProgress:
    """A progress bar on stderr; none (:class:`NoProgress`) when stderr is not a terminal or ``--quiet`` was given."""
    if STATE.quiet or not sys.stderr.isatty():
        return NoProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console(),
        transient=True,
    )


@dataclass
class FailureLog:
    """Per-item failures of a batch: reported one line each as they happen, counted for the exit code,
    and listed in a file with :meth:`recording` (``--failures FILE``).

    Each failure has the input it is about: given by the caller, else the file its message starts
    with (messages name their file first), else :attr:`input`.
    """

    failures: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    input: str = ""
    """The input a failure is about when neither the caller nor its message names one."""

    def add(self, message: str, item: str | Path | None = None) -> None:
        self.failures.append(message)
        self.items.append(str(item) if item is not None else self._named_input(message))
        error(message)

    def _named_input(self, message: str) -> str:
        start = message.find(": ")
        while start > 0:
            if Path(message[:start]).exists():
                return message[:start]
            start = message.find(": ", start + 2)
        return self.input

    def write(self, path: str | Path) -> None:
        """``INPUT<TAB>REASON``, one line per failure (an empty file when there were none): the first
        column re-runs just those, e.g. ``cut -f1 FILE | garmentkp detect - -o more.json``."""
        from garmentcli.io.atomic import atomic_write

        with atomic_write(path, "w") as handle:
            for item, message in zip(self.items, self.failures, strict=True):
                handle.write(f"{_one_line(item)}\t{_one_line(message)}\n")

    @contextlib.contextmanager
    def recording(self, path: str | Path | None) -> Iterator[FailureLog]:
        """Write the list to ``path`` (when given) at the end of the body, also when it is interrupted."""
        try:
            yield self
        finally:
            if path is not None:
                self.write(path)

    def __len__(self) -> int:
        return len(self.failures)

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.failures else EXIT_OK


@contextlib.contextmanager
def writing(command: str, *outputs: str | Path | None, model_cards: bool = False) -> Iterator[None]:
    """Hold the output lock of every output (``None`` and ``-`` skipped) while the body writes them.

    A second run writing one of them stops with a one-line error naming the holder (exit 1); a lock
    left by a killed run is taken over. See :mod:`garmentcli.io.lock`. An output that is the card
    of a model beside it (``mine.json`` next to ``mine.onnx``) is refused, unless ``model_cards``
    (``export``, which writes cards).
    """
    from garmentcli.io.lock import describe, output_lock
    from garmentcli.models.registry import model_of_card

    paths = {Path(o).absolute(): Path(o) for o in outputs if o is not None and str(o) != "-"}
    for path in paths.values():
        model = None if model_cards else model_of_card(path)
        if model is not None:
            raise InputError(
                f"{path}: is the model card of {model}; writing there would break that model, choose another name"
            )
    with contextlib.ExitStack() as stack:
        for path in paths.values():
            try:
                previous = stack.enter_context(output_lock(path, f"garmentkp {command}"))
            except OSError as exc:  # the lock goes beside the output: its folder cannot be written
                raise InputError(f"{path}: cannot write there ({exc.strerror or type(exc).__name__})") from None
            if previous.get("pid") is not None:
                info(f"{path}: taking over the lock left by an interrupted run ({describe(previous)})")
        yield
