"""Issue 18, start-up: each command imports only what it needs (no timing here: the import sets).

Every case runs ``garmentkp`` in a fresh interpreter and reads back the top-level packages it had
imported when it exited.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from io_samples import sample_set
from typer.testing import CliRunner

from garmentcli.cli.app import COMMANDS, app, command_function
from garmentcli.io.formats import READERS, WRITERS, read_annotations, write_annotations

PROBE = """
import json, sys
from garmentcli.cli.app import main
out, sys.argv = sys.argv[1], ["garmentkp", *sys.argv[2:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(out, "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""

SAMPLE = Path(__file__).resolve().parents[1] / "sample_images" / "flatlay" / "image" / "000001.jpg"
HEAVY = {"numpy", "pandas", "cv2", "PIL", "torch", "onnxruntime", "matplotlib", "yaml", "defusedxml", "ray"}
NETWORK = {"torch", "onnxruntime"}


def modules(tmp_path, *args: str) -> set[str]:
    """The modules ``garmentkp ARGS`` had imported when it exited; the command must succeed."""
    out = tmp_path / "probe.json"
    run = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, timeout=300)
    found = json.loads(out.read_text())
    assert found["code"] in (0, None), run.stderr
    return set(found["modules"])


def imported(tmp_path, *args: str) -> set[str]:
    """The top-level packages of :func:`modules`."""
    return {name.split(".")[0] for name in modules(tmp_path, *args)}


@pytest.mark.parametrize("args", [["--version"], ["--help"]], ids=["version", "help"])
def test_version_and_help_import_no_library(tmp_path, args):
    packages = imported(tmp_path, *args)
    assert not packages & HEAVY, packages & HEAVY
    assert not any(p.startswith("garmentcli") and p != "garmentcli" for p in packages)


def test_version_loads_no_command_module_nor_rich(tmp_path):
    found = modules(tmp_path, "--version")
    loaded = {m for m in found if m.startswith("garmentcli.cli.")} - {"garmentcli.cli.app", "garmentcli.cli.common"}
    assert not loaded, loaded
    assert "rich" not in found


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_help_imports_no_library(tmp_path, command):
    packages = imported(tmp_path, command, "--help")
    assert not packages & HEAVY, packages & HEAVY


def test_eval_imports_no_network_no_images_no_tables(tmp_path):
    gt = tmp_path / "gt.json"
    write_annotations(sample_set(), gt, "coco")
    packages = imported(tmp_path, "-q", "eval", "--gt", str(gt), "--pred", str(gt), "--json", str(tmp_path / "e.json"))
    assert "numpy" in packages
    assert not packages & {*NETWORK, "cv2", "PIL", "pandas", "matplotlib"}, packages


def test_convert_imports_no_network(tmp_path):
    gt = tmp_path / "gt.json"
    write_annotations(sample_set(), gt, "coco")
    for output in ("out.jsonl", "out.csv"):
        packages = imported(tmp_path, "-q", "convert", str(gt), "-o", str(tmp_path / output))
        assert not packages & {*NETWORK, "cv2", "matplotlib"}, (output, packages)
    assert len(read_annotations(tmp_path / "out.jsonl")) == len(sample_set())


def test_quiet_detect_loads_no_rich_no_tables_no_torch_no_evaluation(tmp_path):
    found = modules(tmp_path, "-q", "detect", str(SAMPLE), "-o", str(tmp_path / "p.json"))
    packages = {name.split(".")[0] for name in found}
    assert "onnxruntime" in packages
    assert not packages & {"rich", "pandas", "torch", "matplotlib"}, packages
    assert "garmentcli.metrics.similarity" in found  # box IoU for the decoding's suppression
    assert not {"garmentcli.metrics.evaluate", "garmentcli.metrics.coco"} & found


def test_quiet_keeps_opencv_quiet_when_it_is_imported_later(tmp_path):
    """``-q`` must not import OpenCV itself, yet OpenCV's warnings stay off when a command imports it."""
    script = (
        "import sys; from garmentcli.cli import common; common.silence_opencv(); "
        "assert 'cv2' not in sys.modules; import cv2; cv2.imread('/nonexistent/x.jpg')"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert "WARN" not in run.stderr, run.stderr


def test_the_help_list_is_every_command_with_its_own_help():
    """``--help`` lists the commands from their help texts alone; each command, once asked for, is the real one."""
    group = typer.main.get_command(app)
    context = group.make_context("garmentkp", [], resilient_parsing=True)
    assert group.list_commands(context) == list(COMMANDS)
    listing = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"}).output
    for name in COMMANDS:
        command = group.get_command(context, name)
        assert command.params, name
        assert command.help.split("\n")[0].strip() in listing, name
    assert group.get_command(context, "nosuch") is None


def test_choice_names_are_the_implementations_names():
    from garmentcli.choices import BACKEND_NAMES
    from garmentcli.runtime.backends import BACKENDS

    assert tuple(BACKENDS) == BACKEND_NAMES
    assert all(callable(f) for f in (*READERS.values(), *WRITERS.values()))
    assert command_function("eval").__name__ == "eval_command"


def test_detect_makes_one_onnxruntime_session_with_the_thread_settings(tmp_path, monkeypatch):
    """One session for the whole run (refinement and flips included), with the inference threads and no spinning."""
    import onnxruntime as ort

    from garmentcli.runtime.backends import cpu_threads

    made = []
    real = ort.InferenceSession

    def counted(path, options=None, **kwargs):
        made.append(options)
        return real(path, options, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", counted)
    args = ["-q", "detect", str(SAMPLE), "-o", str(tmp_path / "p.json"), "--refine", "--flip"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(made) == 1
    assert made[0].intra_op_num_threads == cpu_threads()
    assert made[0].get_session_config_entry("session.intra_op.allow_spinning") == "0"
