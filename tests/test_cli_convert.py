import json

import pandas as pd
from io_samples import assert_sets_equal, sample_set
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations, write_annotations

runner = CliRunner()


def test_real_coco_to_csv(real_data, tmp_path):
    result = runner.invoke(
        app, ["convert", str(real_data / "deepfashion2" / "deepfashion2_coco.json"), "-o", str(tmp_path / "gt.csv")]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "gt.csv")
    assert list(table["image_id"]) == [264, 265]
    assert list(table["category_name"]) == ["long_sleeved_dress"] * 2


def test_split_to_coco_to_jsonl(tmp_path):
    original = sample_set()
    write_annotations(original, tmp_path / "split", "df2")
    assert runner.invoke(app, ["convert", str(tmp_path / "split"), "-o", str(tmp_path / "gt.json")]).exit_code == 0
    result = runner.invoke(app, ["convert", str(tmp_path / "gt.json"), "-o", str(tmp_path / "gt.jsonl")])
    assert result.exit_code == 0
    assert "3 images, 3 garments" in result.output
    for image in original:
        image.width = image.height = 0
    assert_sets_equal(read_annotations(tmp_path / "gt.jsonl"), original, ids=False)


def test_results_with_images_from_and_stdout(tmp_path):
    write_annotations(sample_set(), tmp_path / "gt.json")
    write_annotations(sample_set(seed=2, scores=True), tmp_path / "res.json", "results")
    result = runner.invoke(
        app, ["-q", "convert", str(tmp_path / "res.json"), "--images-from", str(tmp_path / "gt.json"), "-o", "-"]
    )
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file_name"] for line in lines] == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert lines[0]["width"] == 400 and len(lines[0]["garments"]) == 2


def test_partial_failure_writes_the_rest_and_exits_2(tmp_path):
    data = json.loads(json.dumps(read_annotations_dict(tmp_path)))
    data["annotations"][1]["keypoints"] = [1.0] * 5
    (tmp_path / "bad.json").write_text(json.dumps(data))
    result = runner.invoke(app, ["convert", str(tmp_path / "bad.json"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'bad.json'}: annotation id=12: landmark vector has 5 values" in result.output
    assert "1 bad entries skipped" in result.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == 3  # two garments and the garment-less image


def read_annotations_dict(tmp_path):
    from io_samples import coco_dict

    return coco_dict(sample_set())


def test_user_errors_exit_1_and_keep_existing_output(tmp_path):
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "out.csv").write_text("keep me")
    result = runner.invoke(app, ["convert", str(tmp_path / "broken.json"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 1
    assert "malformed JSON" in result.output and len(result.output.strip().splitlines()) == 1
    assert (tmp_path / "out.csv").read_text() == "keep me"
    assert runner.invoke(app, ["convert", str(tmp_path / "nope"), "-o", str(tmp_path / "o.json")]).exit_code == 1
    write_annotations(sample_set(), tmp_path / "gt.json")
    assert runner.invoke(app, ["convert", str(tmp_path / "gt.json"), "-o", "x", "--to", "xml"]).exit_code == 1
    assert runner.invoke(app, ["convert", str(tmp_path / "gt.json"), "-o", "x.csv", "--bogus"]).exit_code == 1
    assert runner.invoke(app, ["convert", str(tmp_path / "gt.json"), "-o", "-", "--to", "df2"]).exit_code == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["convert", str(empty), "-o", str(tmp_path / "o.json")])
    assert result.exit_code == 1 and "cannot tell the format" in result.output


def test_help_shows_examples():
    result = runner.invoke(app, ["convert", "--help"])
    assert result.exit_code == 0 and "garmentkp convert validation/ -o val_coco.json" in result.output
