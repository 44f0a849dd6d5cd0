"""The ``garmentkp`` command: the main callback and the registration of every subcommand.

Each subcommand lives in its own module of this package as a thin call into the library. Modules
are imported, and their options read, only for the command that runs (:data:`COMMANDS`): the
command modules import the libraries they need inside the command, so ``garmentkp --version``
loads no command module and ``--help`` no numpy, OpenCV, pandas or onnxruntime.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

try:  # recent typer carries its own copy of click, whose usage errors are not click's
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - typer that uses click itself
    from click import UsageError

from garmentcli import __version__
from garmentcli.cli import common
from garmentcli.errors import GarmentError

QUIET_FLAGS = ("-q", "--quiet")

COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("synth", "synth"),
    "train": ("train", "train"),
    "detect": ("detect", "detect"),
    "measure": ("measure", "measure"),
    "eval": ("eval", "eval_command"),
    "convert": ("convert", "convert"),
    "draw": ("draw", "draw"),
    "board": ("board", "board"),
    "export": ("export", "export"),
    "quantize": ("quantize", "quantize"),
    "models": ("models", "models"),
    "bench": ("bench", "bench"),
}
"""Subcommand -> (its module in this package, the function); in pipeline order, the order ``--help`` lists them."""


def command_function(name: str) -> Callable[..., Any]:
    """The function of subcommand ``name`` (its module imported now)."""
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(f"garmentcli.cli.{module}"), function)


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
    (exit 0), as standard tools do.

    Subcommands come from :data:`COMMANDS`, each made into a click command (its options read from its
    signature) when first asked for. The list of commands in ``--help`` needs only their help texts, so
    while the group formats its own help it hands out commands without options.
    """

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        if self._listing:
            return TyperCommand(name=cmd_name, help=inspect.getdoc(command_function(cmd_name)))
        info = CommandInfo(name=cmd_name, callback=command_function(cmd_name))
        self.commands[cmd_name] = get_command_from_info(
            info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode
        )
        return self.commands[cmd_name]

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
