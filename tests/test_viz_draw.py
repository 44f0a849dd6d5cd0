import numpy as np
import pytest

from garmentcli.errors import InputError
from garmentcli.schema.layout import DF2
from garmentcli.schema.records import Garment
from garmentcli.viz.draw import category_colour, contact_sheet, draw_garments


def _near(pixels, colour):
    """Pixels within anti-aliasing distance of ``colour`` (lines are drawn anti-aliased)."""
    return np.abs(pixels.astype(int) - np.array(colour)).max(axis=-1) <= 60


def _skirt(v, score=None):
    """A skirt (8 landmarks) with landmarks on a 40 px grid, far apart, and the given visibilities."""
    landmarks = np.zeros((8, 3))
    landmarks[:, 0] = 40 + 40 * np.arange(8)
    landmarks[:, 1] = 200
    landmarks[:, 2] = v
    return Garment(9, [20, 150, 340, 120], landmarks, score=score)


def test_dots_filled_hollow_and_hidden():
    image = np.zeros((400, 400, 3), np.uint8)
    garment = _skirt([2, 1, 0, 2, 1, 0, 2, 2])
    drawn = draw_garments(image, [garment])
    colour = np.array(category_colour(9))
    centre = lambda i: drawn[200, 40 + 40 * i]  # noqa: E731
    assert (centre(0) == colour).all()  # visible: filled
    assert not (centre(1) == colour).all()  # occluded: hollow centre
    ring = drawn[200 - 5 : 200 + 6, 80 - 5 : 80 + 6]
    assert _near(ring, colour).any()  # ... but a ring around it
    assert image.max() == 0  # the input is not drawn on


def test_unlabelled_landmarks_leave_no_mark():
    image = np.zeros((400, 400, 3), np.uint8)
    drawn = draw_garments(image, [_skirt([0] * 8)])
    assert drawn[190:211, 30:351].max() == 0


def test_predictions_use_confidence():
    image = np.zeros((400, 400, 3), np.uint8)
    drawn = draw_garments(image, [_skirt([0.9, 0.2, 0, 0.9, 0.9, 0.9, 0.9, 0.9], score=0.8)])
    colour = np.array(category_colour(9))
    assert (drawn[200, 40] == colour).all()
    assert not (drawn[200, 80] == colour).all()


def test_box_is_drawn_in_the_category_colour():
    image = np.zeros((400, 400, 3), np.uint8)
    drawn = draw_garments(image, [_skirt([0] * 8)], show_score=False)
    colour = np.array(category_colour(9))
    assert (drawn[270, 100:300] == colour).all()  # bottom edge y = 150 + 120
    assert (drawn[150:270, 360] == colour).all()  # right edge x = 20 + 340


def test_outline_joins_labelled_neighbours():
    category = DF2.category("skirt")
    chain = category.outline_indices()[0]
    a, b = chain[0], chain[1]
    landmarks = np.zeros((8, 3))
    landmarks[a] = [100, 300, 2]
    landmarks[b] = [300, 300, 2]
    drawn = draw_garments(np.zeros((400, 400, 3), np.uint8), [Garment(9, [50, 50, 300, 300], landmarks)])
    assert _near(drawn[300, 150:250], category_colour(9)).all()
    assert drawn[310:330, 150:250].max() == 0


def test_colours_are_distinct_per_category():
    ids = [*DF2.ids, 101, 102, 103]
    assert len({category_colour(i) for i in ids}) == len(ids)


def test_contact_sheet_layout():
    tiles = [np.full((100, 200, 3), value, np.uint8) for value in (50, 100, 150, 200, 250)]
    sheet = contact_sheet(tiles, cols=2, cell_width=100, gap=4)
    assert sheet.shape == (3 * 50 + 4 * 4, 2 * 100 + 3 * 4, 3)
    assert (sheet[4 + 25, 4 + 50] == 50).all()
    assert (sheet[4 + 50 + 4 + 25, 4 + 100 + 4 + 50] == 200).all()
    assert (sheet[4 + 2 * 54 + 25, 4 + 100 + 4 + 50] == 32).all()  # empty last cell: background
    with pytest.raises(InputError, match="no images"):
        contact_sheet([])


def test_fld_garments_get_dots_but_no_outline():
    landmarks = np.zeros((8, 3))
    landmarks[0] = [100, 200, 2]
    landmarks[1] = [300, 200, 2]
    drawn = draw_garments(np.zeros((400, 400, 3), np.uint8), [Garment(103, [50, 100, 300, 250], landmarks)])
    assert _near(drawn[200, 100], category_colour(103))
    assert drawn[200, 150:250].max() == 0  # collars are not joined
