"""The documentation's commands are commands the CLI takes: every ``garmentkp`` line of a shell block in the
README and docs/ parses (options exist, required ones are given, choices are valid); nothing is run."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from garmentcli.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def command_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, command)`` of each ``garmentkp …`` in the file's bash blocks (pipes and ``&&`` split)."""
    found, shell = [], False
    for number, line in enumerate(path.read_text().replace("\\\n", " ").splitlines(), 1):
        if line.startswith("```"):
            shell = not shell and line.strip() in ("```bash", "```sh", "```console")
            continue
        if shell:
            parts = re.split(r"\|\||&&|\||;", line.split("  #")[0])
            found += [(number, p.strip()) for p in parts if p.strip().startswith("garmentkp ")]
    return found


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_documented_command_parses(path):
    group = typer.main.get_command(app)
    lines = command_lines(path)
    wrong = []
    for number, line in lines:
        args = [a for a in shlex.split(line)[1:] if a not in ("-q", "--quiet")]
        context = group.make_context("garmentkp", [], resilient_parsing=True)
        command = group.get_command(context, args[0])
        try:
            assert command is not None, f"no command {args[0]!r}"
            command.make_context(args[0], args[1:], parent=context)
        except Exception as exc:  # click's usage errors, or the assertion above
            wrong.append(f"{path.name}:{number}: {line}: {exc}")
    assert not wrong, "\n".join(wrong)
    if path.name in ("README.md", "train.md", "detect.md"):
        assert lines, f"{path.name} shows no command"
