from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from garmentcli.errors import ImageReadError, InputError
from garmentcli.io.images import read_image
from garmentcli.io.sources import expand_sources


def _pattern(h: int = 20, w: int = 40) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (0, 0, 255)
    return image


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".bmp", ".tiff"])
def test_reads_common_formats(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    cv2.imwrite(str(path), _pattern())
    image = read_image(path)
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    assert image[10, 5, 2] > 200 and image[10, 35, 2] < 60


def test_gray_rgba_and_16_bit_become_bgr8(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.full((8, 9), 77, np.uint8))
    cv2.imwrite(str(tmp_path / "a.png"), np.dstack([_pattern(8, 9), np.full((8, 9), 128, np.uint8)]))
    cv2.imwrite(str(tmp_path / "d.png"), np.full((8, 9), 40000, np.uint16))
    gray, rgba, deep = (read_image(tmp_path / n) for n in ("g.png", "a.png", "d.png"))
    assert gray.shape == rgba.shape == deep.shape == (8, 9, 3)
    assert gray[0, 0].tolist() == [77, 77, 77]
    assert deep.dtype == np.uint8 and deep[0, 0, 0] == 40000 >> 8


def test_exif_orientation_is_applied(tmp_path):
    picture = Image.fromarray(_pattern()[:, :, ::-1])
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    picture.save(tmp_path / "r.jpg", exif=exif)
    image = read_image(tmp_path / "r.jpg")
    assert image.shape == (40, 20, 3)
    assert image[5, 10, 2] > 200 and image[35, 10, 2] < 60  # the red half is now on top


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"not an image at all", "not a readable image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 50, "bad.jpg"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg_and_missing_file(tmp_path):
    good = tmp_path / "good.jpg"
    cv2.imwrite(str(good), _pattern(200, 200))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        read_image(cut)
    with pytest.raises(ImageReadError, match="missing.jpg"):
        read_image(tmp_path / "missing.jpg")


def test_pixel_limit_refuses_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.zeros((300, 400), np.uint8))
    with pytest.raises(ImageReadError, match="400x300 exceeds the 100,000-pixel limit"):
        read_image(path, max_pixels=100_000)


def test_expand_sources_folders_files_globs_stdin(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.png", "sub/c.JPG", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_sources([str(tmp_path)])
    assert [s.name for s in found] == ["a.png", "b.jpg", "sub/c.JPG"]
    assert [s.name for s in expand_sources([str(tmp_path / "*.jpg")])] == ["b.jpg"]
    assert [s.path for s in expand_sources(["-"], stdin_lines=[f"{tmp_path}/a.png\n", "\n"])] == [
        Path(f"{tmp_path}/a.png")
    ]
    assert len(expand_sources([str(tmp_path), str(tmp_path / "a.png")])) == 3
    with pytest.raises(InputError, match="nope: no such file"):
        expand_sources([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images found"):
        expand_sources([str(tmp_path / "empty")])


def test_write_image_round_trips(tmp_path):
    from garmentcli.io.images import write_image

    picture = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    write_image(picture, tmp_path / "sub" / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "p.png"), picture)


def test_write_image_refuses_a_suffix_without_encoder_in_one_line(tmp_path):
    from garmentcli.errors import InputError
    from garmentcli.io.images import write_image

    with pytest.raises(InputError, match=r"p\.xyz: could not encode"):
        write_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "p.xyz")
    assert not list(tmp_path.iterdir())
