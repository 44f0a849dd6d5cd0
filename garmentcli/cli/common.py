"""What every command shares: the stderr console, progress bars, and the exit-code contract.

Exit codes: 0 everything worked, 1 user error (bad arguments, unreadable input), 2 partial
failure (some files failed; results for the rest were written).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from garmentcli.errors import InputError
from garmentcli.io.lock import describe, output_lock

EXIT_OK, EXIT_USER_ERROR, EXIT_PARTIAL = 0, 1, 2

console = Console(stderr=True, highlight=False)
"""Messages, warnings and progress go to stderr so stdout stays clean for piped data."""


@dataclass
class CliState:
    """Options of the main callback that every command may read."""

    quiet: bool = False


STATE = CliState()


def error(message: str) -> None:
    """Print a one-line error (the message should name the file and entry)."""
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def info(message: str) -> None:
    if not STATE.quiet:
        console.print(escape(message), soft_wrap=True)


def make_progress() -> Progress:
    """A progress bar on stderr; silent when stderr is not a terminal or ``--quiet`` was given."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=STATE.quiet or not sys.stderr.isatty(),
        transient=True,
    )


@dataclass
class FailureLog:
    """Per-item failures of a batch: reported one line each as they happen, counted for the exit code."""

    failures: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.failures.append(message)
        error(message)

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
            previous = stack.enter_context(output_lock(path, f"garmentkp {command}"))
            if previous.get("pid") is not None:
                info(f"{path}: taking over the lock left by an interrupted run ({describe(previous)})")
        yield
