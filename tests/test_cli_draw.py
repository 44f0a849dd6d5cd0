import cv2
import numpy as np
from io_samples import sample_set
from typer.testing import CliRunner

from garmentcli.cli.app import app
from garmentcli.io.formats import write_annotations

runner = CliRunner()


def _split_with_images(root, missing=()):
    aset = sample_set(scores=True)
    write_annotations(aset, root, "df2")
    (root / "image").mkdir()
    for image in aset:
        if image.file_name not in missing:
            cv2.imwrite(str(root / "image" / image.file_name), np.full((image.height, image.width, 3), 90, np.uint8))
    return aset


def test_draws_every_image_of_a_split(tmp_path):
    _split_with_images(tmp_path / "split")
    result = runner.invoke(
        app, ["draw", str(tmp_path / "split"), "-o", str(tmp_path / "out"), "--sheet", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["000001.jpg", "000002.jpg", "000003.jpg"]
    first = cv2.imread(str(tmp_path / "out" / "000001.jpg"))
    assert first.shape == (420, 400, 3) and np.abs(first.astype(int) - 90).max() > 100  # something drawn
    assert cv2.imread(str(tmp_path / "s.png")).shape[1] == 3 * 320 + 4 * 4


def test_max_filter_and_score(tmp_path):
    aset = _split_with_images(tmp_path / "split")
    args = ["draw", str(tmp_path / "split"), "--images", str(tmp_path / "split" / "image"), "-o", str(tmp_path / "o1")]
    assert runner.invoke(app, [*args, "--max", "1"]).exit_code == 0
    assert [p.name for p in (tmp_path / "o1").iterdir()] == ["000001.jpg"]
    out = ["-o", str(tmp_path / "o2")]
    result = runner.invoke(app, [*args[:-2], *out, "--filter-category", "long_sleeved_dress", "--filter-category", "8"])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["000001.jpg", "000002.jpg"]
    result = runner.invoke(app, [*args, "--filter-category", "skirt"])
    assert result.exit_code == 1 and "no images to draw" in result.output
    result = runner.invoke(app, [*args, "--filter-category", "cape"])
    assert result.exit_code == 1 and "unknown garment category" in result.output
    assert aset.num_garments == 3


def test_missing_image_is_reported_and_the_rest_drawn(tmp_path):
    _split_with_images(tmp_path / "split", missing={"000002.jpg"})
    (tmp_path / "split" / "image" / "000003.jpg").write_bytes(b"not a picture")
    result = runner.invoke(app, ["draw", str(tmp_path / "split"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "000002.jpg" in result.output and "(image id=2)" in result.output
    assert "000003.jpg" in result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["000001.jpg"]


def test_real_sample_and_bad_folder(real_data, tmp_path):
    coco = real_data / "deepfashion2" / "deepfashion2_coco.json"
    result = runner.invoke(app, ["draw", str(coco), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000264.jpg", "000265.jpg"]
    result = runner.invoke(app, ["draw", str(coco), "--images", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no such folder" in result.output


def test_select_images_filters_scores_categories_and_count():
    from garmentcli.cli.draw import select_images

    aset = sample_set(scores=True)
    scores = [g.score for _, g in aset.garments()]
    threshold = sorted(scores)[1]
    kept = list(select_images(aset, None, threshold, None))
    assert [len(i.garments) for i in kept] == [sum(s >= threshold for s in scores[:2]), int(scores[2] >= threshold), 0]
    assert all(g.score >= threshold for i in kept for g in i.garments)
    assert [i.id for i in select_images(aset, {11}, 0.0, None)] == [2]
    assert [i.id for i in select_images(aset, None, 0.0, 2)] == [1, 2]
    assert aset.num_garments == 3  # the set itself is not changed
