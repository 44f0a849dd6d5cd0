"""Board layouts: geometry, the JSON form and its validation, and rendering that the detector reads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from garmentcli.errors import FormatError, InputError
from garmentcli.measure.board import BoardLayout, aruco_dictionary, render_board
from garmentcli.measure.markers import detect_markers


def test_table_corners_places_four_markers_clockwise_inside_the_margin():
    layout = BoardLayout.table_corners(120.0, 80.0, 8.0, first_id=10, margin_cm=2.0)
    assert sorted(layout.markers) == [10, 11, 12, 13]
    assert layout.markers[10].tolist() == [[2, 2], [10, 2], [10, 10], [2, 10]]
    assert layout.markers[11][0].tolist() == [110, 2]
    assert layout.markers[12][2].tolist() == [118, 78]
    assert layout.markers[13][3].tolist() == [2, 78]
    assert layout.extent() == (2.0, 2.0, 118.0, 78.0)


def test_grid_numbers_markers_row_by_row():
    layout = BoardLayout.grid(3, 2, 5.0, 1.0, first_id=4)
    assert sorted(layout.markers) == [4, 5, 6, 7, 8, 9]
    assert layout.markers[9][0].tolist() == [12, 6]


def test_json_round_trip(tmp_path):
    layout = BoardLayout.table_corners(90.0, 60.0, 7.5, dictionary="5x5_100")
    layout.save(tmp_path / "board.json")
    document = json.loads((tmp_path / "board.json").read_text())
    assert document["dictionary"] == "5x5_100" and document["unit"] == "cm"
    assert document["markers"][1] == {"id": 1, "corners": [[81.5, 1.0], [89.0, 1.0], [89.0, 8.5], [81.5, 8.5]]}
    again = BoardLayout.from_json(tmp_path / "board.json")
    assert again.dictionary == "5x5_100"
    assert all(np.array_equal(again.markers[i], layout.markers[i]) for i in layout.markers)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"markers": []}, "non-empty 'markers' list"),
        ({"unit": "mm", "markers": [{"id": 0, "corners": [[0, 0]] * 4}]}, "unit must be cm"),
        ({"markers": [{"id": 0, "corners": [[0, 0]] * 3}]}, r"marker 1 \(id 0\): corners must be 4 finite"),
        ({"markers": [{"corners": [[0, 0]] * 4}]}, "marker 1: needs an integer id"),
        ({"markers": [{"id": 1, "corners": [[0, 0]] * 4}, {"id": 1, "corners": [[0, 0]] * 4}]}, "id 1 appears twice"),
        ({"dictionary": "3x3_9", "markers": [{"id": 1, "corners": [[0, 0]] * 4}]}, "unknown ArUco dictionary"),
    ],
)
def test_bad_layouts_give_one_line_errors(tmp_path, document, message):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FormatError, match=message) as caught:
        BoardLayout.from_json(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_unreadable_layout_files(tmp_path):
    with pytest.raises(InputError, match="cannot read board layout"):
        BoardLayout.from_json(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FormatError, match="bad.json: not valid JSON"):
        BoardLayout.from_json(tmp_path / "bad.json")


def test_too_small_a_table_is_refused():
    with pytest.raises(InputError, match="cannot hold four 8 cm markers"):
        BoardLayout.table_corners(15.0, 80.0, 8.0)


def test_dictionary_names_are_case_insensitive():
    assert aruco_dictionary("APRILTAG_36h11").markerSize == 6
    assert aruco_dictionary("4X4_50").markerSize == 4


def test_rendered_board_is_read_back_at_its_layout_positions():
    layout = BoardLayout.grid(2, 2, 4.0, 1.0, first_id=20)
    image, plane_to_pixels = render_board(layout, 20.0, margin_cm=1.0)
    assert image.shape == (220, 220)  # 2 x 4 cm + 1 cm gap + 2 x 1 cm margin, at 20 px/cm
    ids, corners = detect_markers(image, "4x4_50")
    assert sorted(ids.tolist()) == [20, 21, 22, 23]
    for marker_id, found in zip(ids, corners, strict=True):
        expected = plane_to_pixels[:2, :2] @ layout.markers[int(marker_id)].T + plane_to_pixels[:2, 2:]
        assert found == pytest.approx(expected.T, abs=0.15)


def test_marker_id_beyond_the_dictionary_is_refused():
    with pytest.raises(InputError, match="marker id 60 is not in ArUco dictionary 4x4_50"):
        render_board(BoardLayout.grid(1, 1, 4.0, 0.0, first_id=60), 10.0)
