from pathlib import Path

import pytest
from io_samples import assert_sets_equal, sample_set

from garmentcli.errors import FormatError, InputError
from garmentcli.io import formats
from garmentcli.io.df2 import write_df2_split
from garmentcli.io.formats import guess_read_format, guess_write_format, read_annotations, write_annotations
from garmentcli.schema.records import AnnotationSet


def test_df2_annos_to_coco_to_csv_and_back(tmp_path):
    original = sample_set()
    write_df2_split(original, tmp_path / "split")
    from_annos = read_annotations(tmp_path / "split")
    write_annotations(from_annos, tmp_path / "gt.json")
    from_coco = read_annotations(tmp_path / "gt.json")
    assert_sets_equal(from_coco, from_annos, ids=False)  # annos files carry no garment ids; COCO numbers them
    write_annotations(from_coco, tmp_path / "gt.csv")
    from_csv = read_annotations(tmp_path / "gt.csv")
    assert_sets_equal(from_csv, from_coco, extra=False)
    write_annotations(from_coco, tmp_path / "back", "df2")
    assert_sets_equal(read_annotations(tmp_path / "back"), from_annos, ids=False)


@pytest.mark.parametrize(("fmt", "name"), [("coco", "a.json"), ("jsonl", "a.jsonl"), ("df2", "split")])
def test_lossless_formats_round_trip(tmp_path, fmt, name):
    original = sample_set(scores=True)
    if fmt == "df2":
        for image in original:
            image.width = image.height = 0  # annos files carry no size, and there are no images to read it from
    write_annotations(original, tmp_path / name, fmt)
    assert_sets_equal(read_annotations(tmp_path / name), original, ids=fmt != "df2")


def test_results_round_trip_through_images(tmp_path):
    gt = sample_set()
    predictions = sample_set(seed=1, scores=True)
    for _, garment in predictions.garments():
        garment.attributes = {}  # result lists have no attributes
    write_annotations(predictions, tmp_path / "res.json", "results")
    read = read_annotations(tmp_path / "res.json", "results", images=gt)
    assert_sets_equal(read, predictions, extra=False, ids=False)


def test_format_guessing(tmp_path):
    write_annotations(sample_set(), tmp_path / "gt.json")
    write_annotations(sample_set(), tmp_path / "res.json", "results")
    write_annotations(sample_set(), tmp_path / "split", "df2")
    assert guess_read_format(tmp_path / "gt.json") == "coco"
    assert guess_read_format(tmp_path / "res.json") == "results"
    assert guess_read_format(tmp_path / "split") == "df2"
    assert guess_read_format(tmp_path / "split" / "annos" / "000001.json") == "df2"
    assert guess_write_format(tmp_path / "x.CSV") == "csv"
    assert guess_write_format(Path("-")) == "jsonl"
    with pytest.raises(InputError, match="cannot guess the output format"):
        guess_write_format(tmp_path / "x.bin")
    assert guess_read_format(tmp_path / "split" / "annos") == "df2"  # the annos folder itself names the split
    (tmp_path / "photos").mkdir()
    with pytest.raises(InputError, match="cannot tell the format of this folder"):
        guess_read_format(tmp_path / "photos")
    with pytest.raises(InputError, match="no such file"):
        guess_read_format(tmp_path / "absent.json")


def test_single_anno_file_reads_as_a_set(tmp_path):
    write_annotations(sample_set(), tmp_path / "split", "df2")
    aset = read_annotations(tmp_path / "split" / "annos" / "000002.json")
    assert [i.id for i in aset] == [2] and aset.num_garments == 1


def test_registries_take_new_formats(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setitem(formats.WRITERS, "count", lambda aset, path: seen.append((len(aset), path.name)))
    monkeypatch.setitem(formats.READERS, "empty", lambda path, on_error: AnnotationSet())
    write_annotations(sample_set(), tmp_path / "x.any", "count")
    assert seen == [(3, "x.any")]
    assert len(read_annotations(tmp_path, "empty")) == 0


def test_unknown_formats_and_default_error_policy(tmp_path):
    with pytest.raises(InputError, match="unknown input format 'xml'"):
        read_annotations(tmp_path, "xml")
    with pytest.raises(InputError, match="unknown output format 'xml'"):
        write_annotations(sample_set(), tmp_path / "a", "xml")
    (tmp_path / "res.json").write_text('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 1], "score": 1}]')
    with pytest.raises(FormatError, match="result #0: box has no area"):
        read_annotations(tmp_path / "res.json")
    with pytest.raises(FormatError, match="not a result list"):
        write_annotations(sample_set(), tmp_path / "gt.json")
        read_annotations(tmp_path / "gt.json", images=sample_set())
