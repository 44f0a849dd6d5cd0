"""Issue 16: the ways the tool reported success while its results were wrong or missing, one test each.

1. two runs writing one output; 2. the same file name in two folders; 3. eval pairing by image id
only; 4. ``--resume`` with other options; 5. round trips through Label Studio, CVAT and YOLO-pose
dropping scores; 6. readers that skipped the validation gate; 7. ``synth`` into a used folder;
8. a model card overwritten by an output. Plus the ``--failures FILE`` list.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
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


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    return shared_tiny_model()


def _photos(folder: Path, count: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(1, count + 1):
        picture = cv2.GaussianBlur(rng.integers(0, 255, (48, 72, 3), dtype=np.uint8), (5, 5), 0)
        cv2.imwrite(str(folder / f"{index:06d}.jpg"), picture)
    return folder


def _detect(tiny, *args: str):
    """``detect`` with the tiny model; options in ``args`` override the defaults given first."""
    return runner.invoke(app, ["detect", "--model", str(tiny), "--score-thr", "0.3", "--max-dets", "3", *args])


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


# --------------------------------------------------------------------------- 1. two runs, one output


HOLD = """
import sys, time
from garmentcli.io.lock import output_lock
with output_lock(sys.argv[1], "garmentkp detect"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_case1_a_second_writer_of_an_output_is_refused_naming_the_holder(tmp_path):
    gt = tmp_path / "gt.json"
    write_annotations(sample_set(), gt, "coco")
    out = tmp_path / "out.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for command in (
            ["convert", str(gt), "-o", str(out)],
            ["eval", "--gt", str(gt), "--pred", str(gt), "--json", str(out)],
        ):
            result = runner.invoke(app, command)
            assert result.exit_code == 1, result.output
            errors = _error_lines(result.output)
            assert len(errors) == 1 and f"pid {holder.pid}" in errors[0] and "garmentkp detect" in errors[0], errors
            assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # the killed holder left its lock file behind: the next run takes it over
    lock = out.with_name(f".{out.name}.lock")
    assert lock.exists() and str(holder.pid) in lock.read_text()
    result = runner.invoke(app, ["convert", str(gt), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not lock.exists() and len(out.read_text().splitlines()) == 3


def test_case1_two_detect_runs_on_one_output_leave_it_complete(tiny, tmp_path):
    photos = _photos(tmp_path / "photos", 60)
    out = tmp_path / "out.json"
    command = [sys.executable, "-m", "garmentcli", "detect", str(photos), "-o", str(out), "--model", str(tiny),
               "--batch-size", "1", "--workers", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    finished = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert sorted(code for code, _ in finished) in ([0, 0], [0, 1]), finished
    for code, stderr in finished:
        if code == 1:
            assert "another garmentkp run is writing it" in stderr and stderr.count("error:") == 1, stderr
    images = json.loads(out.read_text())["images"]
    assert len(images) == 60
    # the same with a JSON Lines output, written in place: a second writer must not add its own lines
    out = tmp_path / "out.jsonl"
    command[command.index("-o") + 1] = str(out)
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    finished = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert sorted(code for code, _ in finished) in ([0, 0], [0, 1]), finished
    names = [json.loads(line)["file_name"] for line in out.read_text().splitlines()]
    assert sorted(names) == sorted(f"{i:06d}.jpg" for i in range(1, 61))


# ------------------------------------------------------------------- 6. one validation gate for every reader


def _one_line_errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("error:", "warning:"))]


def test_case6_cvat_yolo_labelstudio_and_eval_inputs_pass_the_one_gate(tmp_path):
    aset = sample_set()
    # CVAT: a box with xtl=50 xbr=10, and a point at nan,nan
    cvat = tmp_path / "review.xml"
    write_annotations(aset, cvat, "cvat")
    text = cvat.read_text()
    first_box = re.search(r'<box label="[^"]+" occluded="0" xtl="([^"]+)" ytl="([^"]+)" xbr="([^"]+)"', text)
    text = text.replace(first_box.group(0), first_box.group(0).replace(f'xtl="{first_box.group(1)}"', 'xtl="50"'))
    text = text.replace(f'xbr="{first_box.group(3)}"', 'xbr="10"', 1)
    second_group = text.index('group_id="3"')
    point = re.compile(r'outside="0" occluded="0" points="[^"]+"')
    hit = point.search(text, second_group)
    text = text[: hit.start()] + 'outside="0" occluded="0" points="nan,nan"' + text[hit.end() :]
    cvat.write_text(text)
    result = runner.invoke(app, ["convert", str(cvat), "-o", str(tmp_path / "c.json")])
    assert result.exit_code == 2, result.output
    errors = _one_line_errors(result.output)
    assert any(f"{cvat}: image '000001.jpg': group 1: box has no area: w=-40" in e for e in errors), errors
    assert any(f"{cvat}: image '000002.jpg': group 3: NaN or infinite coordinate" in e for e in errors), errors

    # YOLO-pose: a label line with nan
    yolo = tmp_path / "yolo"
    images = tmp_path / "photos"
    images.mkdir()
    for record in aset:
        cv2.imwrite(str(images / record.file_name), np.zeros((record.height, record.width, 3), np.uint8))
    write_annotations(aset, yolo, "yolo", image_root=images)
    label = yolo / "labels" / "000002.txt"
    values = label.read_text().split()
    values[6] = "nan"
    label.write_text(" ".join(values) + "\n")
    result = runner.invoke(app, ["convert", str(yolo), "-o", str(tmp_path / "y.json")])
    assert result.exit_code == 2, result.output
    assert any(f"{label}: line 1: NaN or infinite coordinate" in e for e in _one_line_errors(result.output))

    # Label Studio: a rectangle with a negative width
    tasks = tmp_path / "tasks.json"
    write_annotations(aset, tasks, "labelstudio")
    data = json.loads(tasks.read_text())
    data[1]["predictions"][0]["result"][0]["value"]["width"] = -5.0
    tasks.write_text(json.dumps(data))
    result = runner.invoke(app, ["convert", str(tasks), "-o", str(tmp_path / "l.json")])
    assert result.exit_code == 2, result.output
    assert any(f"{tasks}: task 1: region 'g1': box has no area" in e for e in _one_line_errors(result.output))


def test_case6_eval_names_bad_entries_by_id_with_the_message_convert_gives(tmp_path):
    gt = tmp_path / "gt.json"
    write_annotations(sample_set(), gt, "coco")
    data = json.loads(gt.read_text())
    data["annotations"][1]["bbox"] = [50.0, 50.0, -40.0, -40.0]
    gt.write_text(json.dumps(data))
    pred = tmp_path / "pred.json"
    write_annotations(sample_set(scores=True), pred, "coco")
    preds = json.loads(pred.read_text())
    preds["annotations"][0]["bbox"][2] = -3.0
    pred.write_text(json.dumps(preds))

    converted = runner.invoke(app, ["convert", str(gt), "-o", str(tmp_path / "gt.jsonl")])
    assert converted.exit_code == 2
    expected = f"{gt}: annotation id=12: box has no area: w=-40, h=-40"
    assert any(expected in line for line in _one_line_errors(converted.output)), converted.output
    evaluated = runner.invoke(app, ["eval", "--gt", str(gt), "--pred", str(pred), "--metrics", "ap,box"])
    assert evaluated.exit_code == 2, evaluated.output
    lines = _one_line_errors(evaluated.output)
    assert any(expected in line for line in lines), lines
    assert any(f"{pred}: annotation id=11: box has no area: w=-3" in line for line in lines), lines


# ------------------------------------------------------------------ 8. a model card overwritten by an output


def test_case8_an_output_cannot_replace_a_model_card_nor_export_a_prediction_file(tiny, tmp_path):
    import shutil

    folder = tmp_path / "tr"
    folder.mkdir()
    model = folder / "mine.onnx"
    shutil.copy(tiny, model)
    shutil.copy(tiny.with_suffix(".json"), folder / "mine.json")
    card = (folder / "mine.json").read_bytes()
    photos = _photos(tmp_path / "photos", 2)
    gt = tmp_path / "gt.json"
    write_annotations(sample_set(), gt, "coco")
    for command in (
        ["detect", str(photos), "-o", str(folder / "mine.json"), "--model", str(model)],
        ["convert", str(gt), "-o", str(folder / "mine.json")],
        ["eval", "--gt", str(gt), "--pred", str(gt), "--json", str(folder / "mine.json")],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        errors = _error_lines(result.output)
        assert len(errors) == 1 and "is the model card of" in errors[0] and "mine.onnx" in errors[0], errors
    assert (folder / "mine.json").read_bytes() == card
    assert (
        runner.invoke(app, ["detect", str(photos), "-o", str(folder / "pred.json"), "--model", str(model)]).exit_code
        == 0
    )
    # the other way round: exporting next to a prediction file of the same name must not replace it
    prediction = (folder / "pred.json").read_bytes()
    result = runner.invoke(
        app, ["export", "--random", "--input-size", "64", "--width", "8", "-o", str(folder / "pred.onnx")]
    )
    assert result.exit_code == 1, result.output
    assert "is not a model card" in _error_lines(result.output)[0]
    assert (folder / "pred.json").read_bytes() == prediction and not (folder / "pred.onnx").exists()


# ---------------------------------------------------------------- 2. the same file name in two folders


def test_case2_the_same_file_name_in_two_folders_stays_two_images(tiny, tmp_path):
    first = _photos(tmp_path / "a" / "image", 1, seed=1) / "000001.jpg"
    second = _photos(tmp_path / "b" / "image", 1, seed=2) / "000001.jpg"
    out = tmp_path / "pred.jsonl"
    result = _detect(tiny, str(first), str(second), "-o", str(out), "--score-thr", "0.0")
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["file_name"] for r in records] == ["a/image/000001.jpg", "b/image/000001.jpg"]
    assert len({r["id"] for r in records}) == 2
    # --resume keys by that path: with the second image lost, it is the one detected again
    out.write_text(lines[0] + "\n")
    resumed = _detect(tiny, str(first), str(second), "-o", str(out), "--score-thr", "0.0", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 1 of 2 images already done" in resumed.output
    assert [json.loads(line)["file_name"] for line in out.read_text().splitlines()] == [
        "a/image/000001.jpg",
        "b/image/000001.jpg",
    ]
    # draw keys by it too: each image gets its own picture, with its own garments
    drawn = runner.invoke(app, ["draw", str(out), "--images", str(tmp_path), "-o", str(tmp_path / "drawn")])
    assert drawn.exit_code == 0, drawn.output
    pictures = sorted(p.relative_to(tmp_path / "drawn").as_posix() for p in (tmp_path / "drawn").rglob("*.jpg"))
    assert pictures == ["a/image/000001.jpg", "b/image/000001.jpg"]
    a, b = (cv2.imread(str(tmp_path / "drawn" / p)) for p in pictures)
    assert (
        np.abs(a.astype(int) - cv2.imread(str(first)).astype(int)).mean()
        < np.abs(b.astype(int) - cv2.imread(str(first)).astype(int)).mean()
    )


# ------------------------------------------------------------------------- 4. --resume with other options


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_case4_resume_with_other_settings_is_refused_naming_them(tiny, tmp_path, suffix):
    photos = _photos(tmp_path / "photos", 4)
    out = tmp_path / f"pred{suffix}"
    first = _detect(tiny, str(photos), "-o", str(out), "--score-thr", "0.2")
    assert first.exit_code == 0, first.output
    if suffix == ".csv":  # CSV has no place for the run: it is recorded beside the output
        recorded = json.loads((tmp_path / ".pred.csv.run.json").read_text())
    elif suffix == ".json":
        recorded = json.loads(out.read_text())["garmentkp_run"]
    else:
        recorded = json.loads(out.read_text().splitlines()[0])["garmentkp_run"]
    assert recorded["settings"]["score_thr"] == 0.2 and recorded["settings"]["flip"] is False
    assert recorded["settings"]["model"] == "tiny" and len(recorded["settings"]["model_sha256"]) == 64
    assert recorded["image_root"] == str(photos)
    if suffix == ".jsonl":  # an interrupted run: the last two images missing
        out.write_text("\n".join(out.read_text().splitlines()[:2]) + "\n")
    before = out.read_bytes()
    mixed = _detect(tiny, str(photos), "-o", str(out), "--score-thr", "0.5", "--flip", "--resume")
    assert mixed.exit_code == 1, mixed.output
    errors = _error_lines(mixed.output)
    assert len(errors) == 1 and "score_thr" in errors[0] and "flip" in errors[0], errors
    assert "max_dets" not in errors[0] and "refine" not in errors[0]
    assert out.read_bytes() == before
    same = _detect(tiny, str(photos), "-o", str(out), "--score-thr", "0.2", "--resume")
    assert same.exit_code == 0, same.output
    assert "resuming: 2 of 4" in same.output if suffix == ".jsonl" else "resuming: 4 of 4" in same.output
    # draw finds the images where the output says they are
    drawn = runner.invoke(app, ["draw", str(out), "-o", str(tmp_path / "drawn")])
    assert drawn.exit_code == 0, drawn.output
    assert len(list((tmp_path / "drawn").glob("*.jpg"))) == 4


# ------------------------------------------------------------------------- 3. eval pairing by image id only

SAMPLES = Path(__file__).parents[1] / "sample_images"


def _predictions_of_every_sample(tmp_path: Path) -> Path:
    """What `detect sample_images/` names its images, with every ground-truth garment as a sure prediction."""
    from garmentcli.io.df2 import image_ids_from_names
    from garmentcli.io.formats import read_annotations
    from garmentcli.io.sources import expand_sources
    from garmentcli.schema.records import AnnotationSet, ImageRecord

    sources = expand_sources([str(SAMPLES)])
    truth = {
        folder: {r.file_name: r for r in read_annotations(SAMPLES / folder / "coco.json")}
        for folder in ("flatlay", "marker")
    }
    records = []
    for source, image_id in zip(sources, image_ids_from_names([s.name for s in sources]), strict=True):
        folder, _, name = source.name.split("/")
        gt = truth[folder][name]
        garments = [copy.deepcopy(g) for g in gt.garments]
        for garment in garments:
            garment.score, garment.id = 0.9, None
        records.append(ImageRecord(image_id, source.name, gt.width, gt.height, garments))
    pred = tmp_path / "pred.json"
    write_annotations(AnnotationSet(records), pred, "coco")
    return pred


def test_case3_eval_pairs_by_file_name_and_stops_when_ids_disagree(tmp_path):
    pred = _predictions_of_every_sample(tmp_path)
    gt = SAMPLES / "marker" / "coco.json"
    args = ["eval", "--gt", str(gt), "--pred", str(pred), "--metrics", "ap", "--json"]
    stopped = runner.invoke(app, [*args, str(tmp_path / "auto.json")])
    assert stopped.exit_code == 1, stopped.output
    errors = _error_lines(stopped.output)
    assert len(errors) == 1 and "--pair-by" in errors[0] and "file name" in errors[0], errors
    assert "'flatlay/image/000001.jpg'" in errors[0]
    assert not (tmp_path / "auto.json").exists()

    by_name = runner.invoke(app, [*args, str(tmp_path / "name.json"), "--pair-by", "name"])
    assert by_name.exit_code == 0, by_name.output
    assert json.loads((tmp_path / "name.json").read_text())["keypoints"]["AP"] == pytest.approx(1.0)
    assert "16 of 24 prediction images" in by_name.output  # the flat-lay ones, left out
    by_id = runner.invoke(app, [*args, str(tmp_path / "id.json"), "--pair-by", "id"])
    assert by_id.exit_code == 0, by_id.output
    assert json.loads((tmp_path / "id.json").read_text())["keypoints"]["AP"] < 0.2

    # names and ids that agree: nothing to say, as before
    own = runner.invoke(app, ["eval", "--gt", str(gt), "--pred", str(gt), "--metrics", "ap"])
    assert own.exit_code == 0 and not _error_lines(own.output), own.output


# ---------------------------------------------------------------- 5. round trips through the review tools


def _noisy_predictions(tmp_path: Path) -> tuple[Path, Path]:
    """Ground truth of sample_images/flatlay, and predictions near it: jittered landmarks, scores, confidences,
    one false positive per image; everything inside the images (YOLO clips to them)."""
    from garmentcli.io.formats import read_annotations
    from garmentcli.schema.records import AnnotationSet, ImageRecord

    gt_path = SAMPLES / "flatlay" / "coco.json"
    rng = np.random.default_rng(16)
    records = []
    for record in read_annotations(gt_path):
        size = np.array([record.width, record.height], dtype=float)
        garments = []
        for index, garment in enumerate([*record.garments, record.garments[0]]):
            guess = copy.deepcopy(garment)
            guess.id, guess.extra, guess.attributes, guess.segmentation = None, {}, {}, None
            jitter = rng.normal(0, 2.0 if index < len(record.garments) else 40.0, guess.landmarks[:, :2].shape)
            centre = guess.bbox[:2] + guess.bbox[2:] / 2
            xy = np.where(guess.landmarks[:, 2:] > 0, guess.landmarks[:, :2], centre) + jitter
            guess.landmarks[:, :2] = np.clip(xy, 1, size - 1).round(3)
            guess.landmarks[:, 2] = rng.uniform(0.05, 1.0, len(xy)).round(4)
            low = np.clip(guess.bbox[:2] + rng.normal(0, 2, 2), 0, size - 2)
            high = np.clip(guess.bbox[:2] + guess.bbox[2:] + rng.normal(0, 2, 2), low + 1, size)
            guess.bbox = np.concatenate([low, high - low]).round(3)
            guess.score = round(float(rng.uniform(0.3, 1.0)), 4)
            garments.append(guess)
        records.append(ImageRecord(record.id, record.file_name, record.width, record.height, garments))
    pred = tmp_path / "pred.json"
    write_annotations(AnnotationSet(records), pred, "coco")
    return gt_path, pred


def _scores(result_json: Path) -> tuple[float, float]:
    data = json.loads(result_json.read_text())
    return data["keypoints"]["AP"], data["bbox"]["AP"]


@pytest.mark.parametrize(("fmt", "suffix"), [("labelstudio", ".json"), ("cvat", ".xml"), ("yolo", "")])
def test_case5_a_prediction_round_trip_through_each_tool_keeps_scores_and_ap(tmp_path, fmt, suffix):
    from garmentcli.io.formats import read_annotations

    gt, pred = _noisy_predictions(tmp_path)
    exported = tmp_path / f"exported{suffix}"
    to = runner.invoke(
        app, ["convert", str(pred), "-o", str(exported), "--to", fmt, "--images", str(gt.parent / "image")]
    )
    assert to.exit_code == 0, to.output
    back = tmp_path / "back.json"
    came_back = runner.invoke(app, ["convert", str(exported), "--from", fmt, "-o", str(back)])
    assert came_back.exit_code == 0, came_back.output
    original, returned = read_annotations(pred), read_annotations(back)
    by_name = {r.file_name: r for r in returned}
    for record in original:
        other = by_name[record.file_name]
        assert sorted(g.score for g in other.garments) == pytest.approx(sorted(g.score for g in record.garments))
        confidences = sorted(v for g in other.garments for v in g.landmarks[:, 2])
        assert confidences == pytest.approx(sorted(v for g in record.garments for v in g.landmarks[:, 2]), abs=1e-4)
    for name, path in (("before", pred), ("after", back)):
        scores = tmp_path / f"{name}.json"
        result = runner.invoke(
            app, ["eval", "--gt", str(gt), "--pred", str(path), "--metrics", "ap,box", "--json", str(scores)]
        )
        assert result.exit_code == 0, result.output
    (kp_before, box_before), (kp_after, box_after) = _scores(tmp_path / "before.json"), _scores(tmp_path / "after.json")
    assert 0.3 < kp_before < 0.99
    assert kp_after == pytest.approx(kp_before, abs=0.001)
    assert box_after == pytest.approx(box_before, abs=0.001)


# ---------------------------------------------------------------------------- 7. synth into a used folder


def _synth(out: Path, *args: str):
    return runner.invoke(app, ["synth", str(out), "--size", "96", "--workers", "1", "--seed", "3", *args])


def test_case7_synth_refuses_a_used_folder_and_a_resumed_run_writes_the_same_coco(tmp_path):
    from garmentcli.io.formats import read_annotations

    out = tmp_path / "data"
    assert _synth(out, "--count", "6").exit_code == 0
    reference = (out / "coco.json").read_bytes()
    smaller = _synth(out, "--count", "3")
    assert smaller.exit_code == 1, smaller.output
    errors = _error_lines(smaller.output)
    assert len(errors) == 1 and "--resume" in errors[0] and "--overwrite" in errors[0], errors
    assert (out / "coco.json").read_bytes() == reference
    # resuming with a smaller count, or with other settings, would mix two datasets
    for args in (["--count", "3", "--resume"], ["--count", "6", "--resume", "--clean"]):
        mixed = _synth(out, *args)
        assert mixed.exit_code == 1, (args, mixed.output)
        assert len(_error_lines(mixed.output)) == 1
    replaced = _synth(out, "--count", "3", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in (out / "image").iterdir()) == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert len(read_annotations(out)) == 3 and len(read_annotations(out / "coco.json")) == 3

    # an interrupted run (images 5 and 6 and coco.json missing) resumed: the same coco.json, byte for byte
    part = tmp_path / "part"
    assert _synth(part, "--count", "6").exit_code == 0
    for name in ("image/000005.jpg", "annos/000005.json", "image/000006.jpg", "annos/000006.json", "coco.json"):
        (part / name).unlink()
    resumed = _synth(part, "--count", "6", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "4 kept from before" in resumed.output
    assert (part / "coco.json").read_bytes() == reference


# ------------------------------------------------------------------------------ the failures list


def _failures(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_failures_file_lists_each_failed_input_with_its_reason(tiny, tmp_path, monkeypatch):
    photos = _photos(tmp_path / "photos", 2)
    broken = photos / "broken.jpg"
    broken.write_bytes(b"not a picture")
    listed = tmp_path / "detect.tsv"
    result = _detect(tiny, str(photos), "-o", str(tmp_path / "pred.json"), "--failures", str(listed))
    assert result.exit_code == 2, result.output
    ((item, reason),) = _failures(listed)
    assert item == str(broken) and reason.startswith(str(broken)) and reason in result.output.replace("\n", "")
    # the first column re-runs just those
    again = runner.invoke(
        app, ["detect", "-", "-o", str(tmp_path / "again.json"), "--model", str(tiny)], input=item + "\n"
    )
    assert again.exit_code == 2 and "0 images" in again.output

    listed = tmp_path / "measure.tsv"
    args = ["measure", str(photos), "-o", str(tmp_path / "sizes.csv"), "--px-per-cm", "10", "--model", str(tiny)]
    result = runner.invoke(app, [*args, "--no-refine", "--no-flip", "--failures", str(listed)])
    assert result.exit_code == 2, result.output
    assert [row[0] for row in _failures(listed)] == [str(broken)]

    gt = tmp_path / "gt.json"
    write_annotations(sample_set(), gt, "coco")
    data = json.loads(gt.read_text())
    data["annotations"][1]["bbox"] = [50.0, 50.0, -40.0, -40.0]
    gt.write_text(json.dumps(data))
    listed = tmp_path / "convert.tsv"
    result = runner.invoke(app, ["convert", str(gt), "-o", str(tmp_path / "gt.jsonl"), "--failures", str(listed)])
    assert result.exit_code == 2, result.output
    assert _failures(listed) == [[str(gt), f"{gt}: annotation id=12: box has no area: w=-40, h=-40"]]

    import garmentcli.synth.writer as writer

    real = writer.render_one

    def fail_the_second(config, index):
        if index == 1:
            raise RuntimeError("a generator bug")
        return real(config, index)

    monkeypatch.setattr(writer, "render_one", fail_the_second)
    listed = tmp_path / "synth.tsv"
    result = _synth(tmp_path / "data", "--count", "3", "--failures", str(listed))
    assert result.exit_code == 2, result.output
    ((item, reason),) = _failures(listed)
    assert item == str(tmp_path / "data" / "image" / "000002.jpg") and "a generator bug" in reason

    listed = tmp_path / "none.tsv"  # a clean run writes an empty list
    assert _synth(tmp_path / "clean", "--count", "1", "--failures", str(listed)).exit_code == 0
    assert listed.read_text() == ""
