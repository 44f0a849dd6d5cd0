"""The ``garmentkp`` command: the main callback and the registration of every subcommand.

Each subcommand lives in its own module of this package as a thin call into the library.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # recent typer carries its own copy of click, whose usage errors are not click's
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - typer that uses click itself
    from click import UsageError

from garmentcli import __version__
from garmentcli.cli import common
from garmentcli.errors import GarmentError

QUIET_FLAGS = ("-q", "--quiet")


def quiet_first(args: list[str]) -> list[str]:
    """``args`` with a ``-q``/``--quiet`` given after the subcommand moved before it (the main callback's
    option), so ``garmentkp convert a.json -o b.csv -q`` is quiet too. Arguments after ``--`` stay put."""
    cut = args.index("--") if "--" in args else len(args)
    head, tail = args[:cut], args[cut:]
    if not any(a in QUIET_FLAGS for a in head):
        return args
    return ["--quiet", *(a for a in head if a not in QUIET_FLAGS), *tail]


def _quiet_closed_stdout() -> None:
    """After a closed pipe (``detect -o - | head``): point stdout at /dev/null so the interpreter's last flush
    cannot fail again (as the Python documentation advises for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a test runner's capture)
        pass


class _GarmentGroup(TyperGroup):
    """Maps errors onto the exit-code contract: usage errors and :class:`GarmentError` exit 1; a file the
    system refuses is one line (exit 1); Ctrl-C exits 130 with one line; a closed output pipe ends quietly
    (exit 0), as standard tools do."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, quiet_first(list(args)))

    def make_context(self, *args: Any, **kwargs: Any) -> typer.Context:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.exit_code = common.EXIT_USER_ERROR
            raise

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = common.EXIT_USER_ERROR
            raise
        except GarmentError as exc:
            common.error(str(exc))
            raise typer.Exit(common.EXIT_USER_ERROR) from exc
        except BrokenPipeError:
            _quiet_closed_stdout()
            raise typer.Exit(common.EXIT_OK) from None
        except KeyboardInterrupt:
            common.error("interrupted")
            raise typer.Exit(common.EXIT_INTERRUPTED) from None
        except OSError as exc:  # the system refused a file: one line naming it, as for our own errors
            common.error(common.os_error_message(exc))
            raise typer.Exit(common.EXIT_USER_ERROR) from exc


app = typer.Typer(
    name="garmentkp",
    cls=_GarmentGroup,
    help=(
        "Batch garment annotation: boxes, categories and the 294 DeepFashion2 landmarks, "
        "measurements in centimetres, and accuracy against ground truth.\n\n"
        "Example: garmentkp detect photos/ -o pred.json"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"garmentkp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.")] = False,
) -> None:
    common.STATE.quiet = quiet
    if quiet:
        common.silence_opencv()


def main() -> None:
    """Console-script entry point."""
    app()


# Subcommands: one module each, registered here in pipeline order (the order `--help` lists them).
# Imported last because each module needs `app`'s package to be importable first.
from garmentcli.cli import (  # noqa: E402
    bench,
    board,
    convert,
    detect,
    draw,
    export,
    measure,
    models,
    synth,
    train,
)
from garmentcli.cli import eval as eval_cli  # noqa: E402

app.command("synth")(synth.synth)
app.command("train")(train.train)
app.command("detect")(detect.detect)
app.command("measure")(measure.measure)
app.command("eval")(eval_cli.eval_command)
app.command("convert")(convert.convert)
app.command("draw")(draw.draw)
app.command("board")(board.board)
app.command("export")(export.export)
app.command("models")(models.models)
app.command("bench")(bench.bench)
