"""Issue 17: every traceback or surprise a new user met, one test each: a one-line error (or the quiet,
expected behaviour) instead.

Each test names the case of the issue it stands for.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from io_samples import sample_set
from models_tiny import shared_tiny_model
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import write_annotations

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    return shared_tiny_model()


def _photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(1, count + 1):
        picture = cv2.GaussianBlur(rng.integers(0, 255, (48, 72, 3), dtype=np.uint8), (5, 5), 0)
        path = folder / f"{index:06d}.jpg"
        cv2.imwrite(str(path), picture)
        paths.append(path)
    return paths


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def _cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, shell_tail: str = ""):
    """``garmentkp ARGS`` in a subprocess (for what CliRunner cannot see: stderr from C++, closed pipes)."""
    command = [sys.executable, "-m", "garmentcli", *args]
    if shell_tail:
        quoted = " ".join(f"'{a}'" for a in command)
        script = f'{quoted} {shell_tail}; echo "rc=${{PIPESTATUS[0]}}" >&2'
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, input=stdin)
    return subprocess.run(command, capture_output=True, text=True, env=env, input=stdin)


# ----------------------------------------------------------------- `ls | detect - -o -` with a symlink loop


def test_a_symlink_loop_on_stdin_is_one_failure_and_the_rest_is_processed(tiny, tmp_path):
    (good,) = _photos(tmp_path / "photos", 1)
    loop = tmp_path / "photos" / "loop.jpg"
    loop.symlink_to(loop)
    listing = f"{good}\n{loop}\n"
    result = runner.invoke(app, ["detect", "-", "-o", str(tmp_path / "out.jsonl"), "--model", str(tiny)], input=listing)
    _no_traceback(result)
    assert result.exit_code == 2, result.output
    (line,) = _errors(result.output)
    assert "loop.jpg" in line
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1


def test_a_symlink_loop_as_an_argument_is_one_line(tiny, tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    result = runner.invoke(app, ["detect", str(loop), "-o", "-", "--model", str(tiny)])
    _no_traceback(result)
    assert result.exit_code == 1 and "loop" in _errors(result.output)[0]


def test_symlinked_sub_folders_are_scanned_and_loops_guarded(tmp_path):
    from garmentcli.io.sources import expand_sources

    _photos(tmp_path / "elsewhere", 2)
    (tmp_path / "photos").mkdir()
    _photos(tmp_path / "photos" / "own", 1)
    (tmp_path / "photos" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere" / "back").symlink_to(tmp_path / "photos", target_is_directory=True)  # a loop
    names = sorted(s.name for s in expand_sources([str(tmp_path / "photos")]))
    assert names == ["linked/000001.jpg", "linked/000002.jpg", "own/000001.jpg"]


# --------------------------------------------------------------------------- an unwritable output folder


@pytest.fixture
def unwritable(tmp_path):
    """A folder no file can be created in: chmod where that binds, else (as root) /sys, where nothing can be."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not Path("/sys").is_dir():
        pytest.skip("no unwritable folder for root on this system")
    yield Path("/sys")


def _coco(tmp_path: Path) -> Path:
    path = tmp_path / "gt.json"
    write_annotations(sample_set(), path)
    return path


@pytest.mark.parametrize(
    "command",
    [
        lambda gt, out: ["convert", str(gt), "-o", str(out / "x.csv")],
        lambda gt, out: ["measure", str(gt), "--px-per-cm", "10", "-o", str(out / "m.csv")],
        lambda gt, out: ["eval", "--gt", str(gt), "--pred", str(gt), "--json", str(out / "s.json")],
        lambda gt, out: ["draw", str(gt), "--images", str(gt.parent), "-o", str(out / "drawn")],
        lambda gt, out: ["synth", str(out / "syn"), "--count", "1"],
        lambda gt, out: ["board", "--grid", "1x1", "-o", str(out / "b.png")],
    ],
    ids=["convert", "measure", "eval", "draw", "synth", "board"],
)
def test_an_unwritable_output_folder_is_one_line_naming_the_output(command, tmp_path, unwritable):
    result = runner.invoke(app, command(_coco(tmp_path), unwritable))
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    (line,) = _errors(result.output)
    assert str(unwritable) in line and "cannot write" in line, line


def test_detect_names_the_output_not_its_hidden_sidecar(tiny, tmp_path, unwritable):
    _photos(tmp_path / "photos", 1)
    result = runner.invoke(
        app, ["detect", str(tmp_path / "photos"), "-o", str(unwritable / "p.json"), "--model", str(tiny)]
    )
    _no_traceback(result)
    assert result.exit_code == 1
    (line,) = _errors(result.output)
    assert str(unwritable / "p.json") in line and ".partial" not in line, line


# ------------------------------------------------------------------------------ a 20000 x 20000 PNG


def _huge_png(path: Path, side: int = 20000) -> Path:
    """A PNG whose header says ``side`` x ``side`` (its pixel data is cut short: only the header is read)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    return path


def test_a_huge_image_meets_our_limit_not_pillows(tmp_path):
    from garmentcli.errors import ImageReadError
    from garmentcli.io.images import read_image

    path = _huge_png(tmp_path / "huge.png")
    with pytest.raises(ImageReadError, match="20000x20000 exceeds the 120,000,000-pixel limit"):
        read_image(path)


def test_garmentkp_max_pixels_lifts_the_limit(tmp_path):
    path = _huge_png(tmp_path / "huge.png")
    env = {**os.environ, "GARMENTKP_MAX_PIXELS": "500000000"}
    code = (
        f"from garmentcli.io.images import read_image\ntry:\n    read_image({str(path)!r})\n"
        "except Exception as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    assert "DecompressionBomb" not in out and "limit" not in out and "huge.png" in out, out


# ----------------------------------------------------------------- CVAT width="abc", train --arch width=40.5


def test_cvat_with_a_non_numeric_width_is_one_line(tmp_path):
    xml = tmp_path / "bad.xml"
    xml.write_text('<annotations><image id="0" name="a.jpg" width="abc" height="10"></image></annotations>')
    result = runner.invoke(app, ["convert", str(xml), "-o", str(tmp_path / "out.json")])
    _no_traceback(result)
    assert result.exit_code == 1
    assert "a.jpg" in _errors(result.output)[0] and "width" in _errors(result.output)[0]


def test_train_arch_with_a_fractional_width_is_one_line_before_any_data_is_read(tmp_path):
    pytest.importorskip("torch")
    result = runner.invoke(
        app, ["train", str(tmp_path / "nothing"), "--out", str(tmp_path / "run"), "--arch", "width=40.5"]
    )
    _no_traceback(result)
    assert result.exit_code == 1
    assert _errors(result.output) == ["error: --arch: ModelConfig.width: Input should be a valid integer (got 40.5)"], (
        result.output
    )


def test_decode_options_are_validated():
    from garmentcli.errors import SchemaError
    from garmentcli.models.codec import DecodeOptions

    with pytest.raises(SchemaError, match=r"DecodeOptions.max_dets: Input should be greater than or equal to 1"):
        DecodeOptions(max_dets=0)
    with pytest.raises(SchemaError, match=r"DecodeOptions.box_landmark_weight: Input should be less than or equal"):
        DecodeOptions(box_landmark_weight=1.5)


# ------------------------------------------------------------------- measure --marker without --images


def test_measure_with_a_marker_but_no_photos_is_one_up_front_error(tmp_path):
    gt = _coco(tmp_path / "elsewhere")
    result = runner.invoke(app, ["measure", str(gt), "--marker", "aruco:4x4_50:0:8", "-o", str(tmp_path / "m.csv")])
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    (line,) = _errors(result.output)
    assert "--images" in line
    assert not (tmp_path / "m.csv").exists()


# ------------------------------------------------------------------------------------- output suffixes


def test_convert_to_a_cvat_zip_writes_a_task_zip(tmp_path):
    gt = _coco(tmp_path)
    result = runner.invoke(app, ["convert", str(gt), "-o", str(tmp_path / "x.zip"), "--to", "cvat"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "x.zip") as archive:
        assert "annotations.xml" in archive.namelist()
    back = runner.invoke(app, ["convert", str(tmp_path / "x.zip"), "-o", str(tmp_path / "back.json")])
    assert back.exit_code == 0, back.output


def test_convert_refuses_an_output_suffix_that_contradicts_to(tmp_path):
    result = runner.invoke(app, ["convert", str(_coco(tmp_path)), "-o", str(tmp_path / "x.csv"), "--to", "cvat"])
    _no_traceback(result)
    assert result.exit_code == 1 and ".csv" in _errors(result.output)[0]


def test_measure_refuses_an_output_it_cannot_write(tmp_path):
    result = runner.invoke(app, ["measure", str(_coco(tmp_path)), "--px-per-cm", "5", "-o", str(tmp_path / "m.xlsx")])
    _no_traceback(result)
    assert result.exit_code == 1
    assert ".xlsx" in _errors(result.output)[0] and not (tmp_path / "m.xlsx").exists()


def test_detect_does_not_suggest_an_option_it_lacks(tiny, tmp_path):
    _photos(tmp_path / "photos", 1)
    result = runner.invoke(
        app, ["detect", str(tmp_path / "photos"), "-o", str(tmp_path / "q.txt"), "--model", str(tiny)]
    )
    _no_traceback(result)
    assert result.exit_code == 1
    line = _errors(result.output)[0]
    assert "--to" not in line and ".jsonl" in line, line


# ------------------------------------------------------------------------------ SIGINT and closed pipes


def test_an_interrupted_detect_says_how_far_it_got_and_how_to_go_on(tiny, tmp_path, monkeypatch):
    from garmentcli.runtime.predictor import Predictor

    _photos(tmp_path / "photos", 3)
    real = Predictor.predict_sources

    def interrupted(self, *args, **kwargs):
        for number, record in enumerate(real(self, *args, **kwargs)):
            if number == 2:
                raise KeyboardInterrupt
            yield record

    monkeypatch.setattr(Predictor, "predict_sources", interrupted)
    result = runner.invoke(
        app, ["detect", str(tmp_path / "photos"), "-o", str(tmp_path / "p.json"), "--model", str(tiny)]
    )
    assert result.exit_code == 130
    assert "2 of 3 images done" in result.output and "--resume" in result.output, result.output


def test_a_closed_pipe_ends_detect_quietly(tiny):
    run = _cli("detect", str(SAMPLES / "flatlay" / "image"), "-o", "-", "--model", str(tiny), shell_tail="| head -c 1")
    assert "rc=0" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "error" not in run.stderr, run.stderr


# -------------------------------------------------------------------- -q: OpenCV's warnings, and its place


def test_quiet_keeps_opencv_warnings_off_the_terminal(tmp_path):
    flatlay = SAMPLES / "flatlay"
    args = ["-q", "draw", str(flatlay / "coco.json"), "--images", str(flatlay / "image"), "--max", "2"]
    run = _cli(*args, "-o", str(tmp_path / "drawn"), "--sheet", str(tmp_path / "s.png"))
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr


def test_quiet_is_accepted_after_the_subcommand_too(tmp_path):
    gt = _coco(tmp_path)
    result = runner.invoke(app, ["convert", str(gt), "-o", str(tmp_path / "x.csv"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    result = runner.invoke(app, ["convert", str(gt), "--quiet", "-o", str(tmp_path / "y.csv")])
    assert result.exit_code == 0 and result.output == "", result.output


# ------------------------------------------------------------------------------------- smaller surprises


def test_eval_takes_an_annos_folder_as_its_help_says(tmp_path):
    split = tmp_path / "syn"
    write_annotations(sample_set(), split, "df2")
    result = runner.invoke(
        app, ["eval", "--gt", str(split / "annos"), "--pred", str(split / "annos"), "--metrics", "box"]
    )
    assert result.exit_code == 0, result.output


def test_convert_reads_csv_from_stdin(tmp_path):
    gt = _coco(tmp_path)
    assert runner.invoke(app, ["convert", str(gt), "-o", str(tmp_path / "x.csv")]).exit_code == 0
    text = (tmp_path / "x.csv").read_text()
    result = runner.invoke(app, ["convert", "-", "--from", "csv", "-o", str(tmp_path / "back.json")], input=text)
    assert result.exit_code == 0, result.output


def test_board_grid_is_refused_when_it_does_not_fit_the_paper(tmp_path):
    result = runner.invoke(app, ["board", "--grid", "3x4", "-o", str(tmp_path / "b.pdf")])
    _no_traceback(result)
    assert result.exit_code == 1
    assert "A4" in _errors(result.output)[0] and "--paper" in _errors(result.output)[0]
    assert (
        runner.invoke(
            app, ["board", "--grid", "3x4", "--paper", "none", "-o", str(tmp_path / "c.png"), "--dpi", "72"]
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["board", "--grid", "2x2", "-o", str(tmp_path / "d.png"), "--dpi", "72"]).exit_code == 0


def test_models_table_shows_ap_and_counts_as_whole_numbers():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "0.724" in result.output and "0.857" in result.output  # keypoint and box AP of synth-test
    assert "300.000" not in result.output


def test_contact_sheet_tiles_carry_their_names():
    from garmentcli.viz.draw import contact_sheet

    tiles = [np.full((50, 80, 3), 255, np.uint8) for _ in range(2)]
    plain = contact_sheet(tiles, 2, 80)
    named = contact_sheet(tiles, 2, 80, names=["a.jpg", "b.jpg"])
    assert named.shape[0] > plain.shape[0] or not np.array_equal(named, plain)


def test_option_choices_fail_before_any_model_loads(tmp_path, monkeypatch):
    import garmentcli.runtime.predictor as predictor

    monkeypatch.setattr(predictor, "resolve_model", lambda *a: pytest.fail("a model was loaded"))
    _photos(tmp_path / "photos", 1)
    for option, value in (("--backend", "tensorrt"), ("--device", "tpu")):
        result = runner.invoke(app, ["detect", str(tmp_path / "photos"), "-o", "-", option, value])
        _no_traceback(result)
        assert result.exit_code == 1 and option in result.output, result.output
    help_text = runner.invoke(app, ["detect", "--help"], env={"COLUMNS": "200"}).output
    assert "onnx" in help_text and "torch" in help_text and "cuda" in help_text
    for command in (
        ["eval", "--gt", "a", "--pred", "b", "--pairing", "nearest"],
        ["eval", "--gt", "a", "--pred", "b", "--pair-by", "order"],
        ["convert", "-", "-o", "x", "--to", "xlsx"],
        ["board", "--grid", "1x1", "-o", "b.png", "--paper", "b5"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 1 and "Invalid value" in result.output, result.output


# ------------------------------------------------------------------- synth markers too small to be found


def test_synth_says_when_its_markers_are_too_small_for_measure_to_find(tmp_path):
    from garmentcli.measure.markers import MIN_MARKER_PX

    out = tmp_path / "syn"
    args = ["synth", str(out), "--count", "8", "--seed", "2029", "--style", "flatlay-v1"]
    result = runner.invoke(app, [*args, "--marker", "aruco:4x4_50:0:8cm", "--workers", "1"])
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "coco.json").read_text())["images"]
    corners = [np.array(image["synth"]["markers"][0]["corners_px"]) for image in truth]
    small = sum(np.hypot(*(c - np.roll(c, 1, axis=0)).T).min() < MIN_MARKER_PX for c in corners)
    assert small == 3  # as in sample_images/marker, made with these options: 18.3, 21.5 and 18.3 px
    assert f"3 of 8 images show a marker under {MIN_MARKER_PX} px" in result.output, result.output
    assert "--size" in result.output
    bigger = [*args[:1], str(tmp_path / "big"), "--count", "2", "--size", "1024", *args[-2:]]
    big = runner.invoke(app, [*bigger, "--marker", "aruco:4x4_50:0:8cm"])
    assert big.exit_code == 0 and "under" not in big.output, big.output
