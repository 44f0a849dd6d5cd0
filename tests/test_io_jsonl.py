import json

import pytest
from io_samples import assert_sets_equal, sample_set

from garmentcli.errors import FormatError
from garmentcli.io.jsonl import JsonlAppender, image_from_json, image_to_json, read_done_names, read_jsonl, write_jsonl


def test_jsonl_round_trip(tmp_path):
    original = sample_set(scores=True)
    write_jsonl(original, tmp_path / "p.jsonl")
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["synth"] == {"seed": 3, "px_per_cm": 12.5}
    assert_sets_equal(read_jsonl(tmp_path / "p.jsonl"), original)


def test_image_dict_round_trip():
    record = sample_set().images[0]
    line = image_to_json(record)
    assert line["garments"][0]["category_name"] == "short_sleeved_shirt"
    assert len(line["garments"][0]["landmarks"]) == 75
    again = image_from_json(json.loads(json.dumps(line)))
    assert again.extra == record.extra and len(again.garments) == 2


def test_appender_keeps_lines_and_repairs_a_cut_line(tmp_path):
    path = tmp_path / "out.jsonl"
    records = sample_set().images
    with JsonlAppender(path) as out:
        out.append(records[0])
    with path.open("ab") as handle:
        handle.write(b'{"id": 2, "file_na')  # an interrupted write
    assert read_done_names(path) == {"000001.jpg"}
    with JsonlAppender(path) as out:
        out.append(records[1])
    assert [i.file_name for i in read_jsonl(path)] == ["000001.jpg", "000002.jpg"]
    assert read_done_names(path) == {"000001.jpg", "000002.jpg"}
    assert read_done_names(tmp_path / "absent.jsonl") == set()


def test_bad_lines_and_garments_are_reported(tmp_path):
    good = image_to_json(sample_set().images[1])
    bad_garment = {**good, "id": 5, "garments": [{**good["garments"][0], "landmarks": [1, 2]}]}
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join([json.dumps(good), "{oops", json.dumps(good), "", json.dumps(bad_garment), "[1]"]))
    messages = []
    aset = read_jsonl(path, messages.append)
    assert [i.id for i in aset] == [2, 5]
    assert aset.images[1].garments == []
    assert messages[0].startswith(f"{path}: line 2: ") and "malformed JSON" in messages[0]
    assert messages[1] == f"{path}: line 3: duplicate image id 2, skipped"
    assert messages[2].startswith(f"{path}: line 5: 000002.jpg: garment #0: landmark vector has 2 values")
    assert messages[3] == f"{path}: line 6: line is not a JSON object"
    with pytest.raises(FormatError, match="line 2"):
        read_jsonl(path)


def test_appender_keeps_a_complete_last_line_without_newline(tmp_path):
    path = tmp_path / "out.jsonl"
    records = sample_set().images
    path.write_bytes(json.dumps(image_to_json(records[0])).encode())  # no final newline
    with JsonlAppender(path) as out:
        out.append(records[1])
    assert [i.file_name for i in read_jsonl(path)] == ["000001.jpg", "000002.jpg"]
