"""Writing datasets: same seed same bytes (any worker count), streaming, resume, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import read_annotations
from garmentcli.measure.board import BoardLayout
from garmentcli.synth.scene import SynthConfig
from garmentcli.synth.writer import write_dataset

CONFIG = SynthConfig(seed=9, size=160)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes_whatever_the_worker_count(tmp_path):
    write_dataset(tmp_path / "one", CONFIG, 6, workers=1)
    write_dataset(tmp_path / "two", CONFIG, 6, workers=2)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert len(one) == 13  # 6 images, 6 annos, coco.json
    assert one == two
    write_dataset(tmp_path / "other", SynthConfig(seed=10, size=160), 6, workers=1)
    other = _files(tmp_path / "other")
    assert other["image/000001.jpg"] != one["image/000001.jpg"]


def test_written_dataset_reads_back_in_both_layouts_with_the_synth_truth(tmp_path):
    summary = write_dataset(tmp_path, CONFIG, 4, workers=1)
    assert summary.written == 4 and not summary.failures
    split = read_annotations(tmp_path, "df2")
    coco = read_annotations(tmp_path / "coco.json", "coco")
    assert [r.file_name for r in split] == [r.file_name for r in coco] == [f"{i:06d}.jpg" for i in range(1, 5)]
    assert split.num_garments == coco.num_garments == sum(len(r.garments) for r in summary.records)
    for record in coco:
        assert record.width == record.height == 160
        synth = record.extra["synth"]
        assert synth["seed"] == 9 and len(synth["plane_to_image"]) == 3 and synth["px_per_cm"] > 0
        for garment in record.garments:
            assert set(garment.extra) >= {"landmarks_cm", "measurements_cm", "size_chart_cm"}
            assert set(garment.attributes) == {"style", "scale", "occlusion", "zoom_in", "viewpoint"}
            assert garment.segmentation


def test_an_interrupted_run_keeps_its_images_and_resumes_to_the_same_bytes(tmp_path):
    seen = []

    def stop_after_three(_: int) -> None:
        seen.append(1)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "cut", CONFIG, 6, workers=1, on_image=stop_after_three)
    kept = read_annotations(tmp_path / "cut" / "coco.json", "coco")
    assert [r.file_name for r in kept] == ["000001.jpg", "000002.jpg", "000003.jpg"]
    summary = write_dataset(tmp_path / "cut", CONFIG, 6, workers=1, resume=True)
    assert (summary.skipped, summary.written) == (3, 3)
    write_dataset(tmp_path / "whole", CONFIG, 6, workers=1)
    cut, whole = _files(tmp_path / "cut"), _files(tmp_path / "whole")
    assert {k: v for k, v in cut.items() if k != "coco.json"} == {k: v for k, v in whole.items() if k != "coco.json"}
    assert len(read_annotations(tmp_path / "cut" / "coco.json", "coco")) == 6


def test_cli_writes_a_board_dataset_with_its_layout(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "synth",
            str(tmp_path),
            "--count",
            "2",
            "--seed",
            "1",
            "--size",
            "192",
            "--board",
            "--workers",
            "1",
            "--categories",
            "skirt,7",
            "--max-garments",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    layout = BoardLayout.from_json(tmp_path / "board.json")
    records = read_annotations(tmp_path / "coco.json", "coco")
    assert {g.category_id for _, g in records.garments()} <= {7, 9}
    for record in records:
        synth = record.extra["synth"]
        assert synth["board"] == "board.json"
        assert sorted(m["id"] for m in synth["markers"]) == layout.ids.tolist()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--marker", "aruco:4x4_50:99:8cm"], "id 99"),
        (["--marker", "qr:8cm"], "expected aruco:"),
        (["--categories", "hat"], "unknown garment category"),
    ],
)
def test_cli_rejects_bad_options_with_one_line_and_exit_1(tmp_path, arguments, message):
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), "--count", "1", *arguments])
    assert result.exit_code == 1
    assert message in result.output


def test_a_failing_image_is_reported_on_one_line_and_the_rest_are_written(tmp_path, monkeypatch):
    import garmentcli.synth.writer as writer

    real = writer.generate

    def flaky(config, index):
        if index == 1:
            raise ValueError("bad luck")
        return real(config, index)

    monkeypatch.setattr(writer, "generate", flaky)
    result = CliRunner().invoke(app, ["synth", str(tmp_path), "--count", "3", "--size", "128", "--workers", "1"])
    assert result.exit_code == 2
    assert "image 2: generation failed: ValueError: bad luck" in result.output
    assert [r.file_name for r in read_annotations(tmp_path / "coco.json", "coco")] == ["000001.jpg", "000003.jpg"]
