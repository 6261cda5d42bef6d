"""RAW files: classified from their embedded preview, through the one preprocessing function."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BLUE, RED
from PIL import Image
from rawfile import write_dng

from catsort.errors import CatsortError
from catsort.images import load_image
from catsort.raw import RAW_EXTENSIONS, is_raw_name


def halves(size=(64, 48)) -> Image.Image:
    """Red on the left half, blue on the right: shows which way an image was turned."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return img


def test_every_raw_extension_of_the_issue_is_read_in_any_case():
    for ext in (".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw"):
        assert ext in RAW_EXTENSIONS
        assert is_raw_name(f"IMG_0001{ext.upper()}")
    assert not is_raw_name("IMG_0001.JPG")


def test_a_dng_is_read_from_its_preview(tmp_path):
    pixels = load_image(write_dng(tmp_path / "cat.dng", RED), (8, 8))
    assert pixels.shape == (8, 8, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels.reshape(-1, 3).mean(axis=0) - RED).max() < 8


def test_a_raw_file_pillow_cannot_open_is_read_from_its_preview(tmp_path):
    path = write_dng(tmp_path / "P1000.ORF", BLUE, olympus=True)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(path)
    pixels = load_image(path, (8, 8))
    assert np.abs(pixels.reshape(-1, 3).mean(axis=0) - BLUE).max() < 8


def test_the_preview_goes_through_the_same_preprocessing_as_a_jpeg(tmp_path):
    image = halves()
    raw = load_image(write_dng(tmp_path / "x.dng", image), (16, 16))
    jpeg = tmp_path / "x.jpg"
    image.save(jpeg, quality=95)
    assert np.array_equal(raw, load_image(jpeg, (16, 16)))


@pytest.mark.parametrize(
    ("orientation", "top_left", "bottom_right"),
    [(1, RED, BLUE), (3, BLUE, RED), (6, RED, BLUE), (8, BLUE, RED)],
)
def test_the_raw_files_orientation_turns_its_preview(tmp_path, orientation, top_left, bottom_right):
    path = write_dng(tmp_path / "x.dng", halves(), orientation=orientation)
    pixels = load_image(path, (16, 16)).astype(int)
    if orientation in (6, 8):  # turned a quarter: the halves are now top and bottom
        assert np.abs(pixels[1, 8] - top_left).max() < 40
        assert np.abs(pixels[14, 8] - bottom_right).max() < 40
    else:
        assert np.abs(pixels[8, 1] - top_left).max() < 40
        assert np.abs(pixels[8, 14] - bottom_right).max() < 40


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: write_dng(p, RED, preview=False), "RAW file without an embedded preview"),
        (lambda p: p.write_bytes(b"not a raw file at all" * 100), "not a RAW file LibRaw can read"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(write_dng(p, RED).read_bytes()[:400]), "damaged RAW file"),
        (lambda p: None, "file not found"),
    ],
)
def test_a_raw_file_without_a_usable_preview_is_a_one_line_error(tmp_path, make, reason):
    path = tmp_path / "IMG_0001.dng"
    make(path)
    with pytest.raises(CatsortError, match=reason) as info:
        load_image(path, (8, 8))
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_a_bitmap_preview_is_turned_by_the_raw_files_orientation(tmp_path, monkeypatch):
    # LibRaw gives some cameras' previews as pixels, not a JPEG; no DNG made here has one, so
    # rawpy is stood in for (its real types, a fake file) to test that branch.
    import rawpy

    class Raw:
        sizes = type("Sizes", (), {"flip": 3})()  # LibRaw's flip 3: turned 180 degrees

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def extract_thumb(self):
            return rawpy.Thumbnail(rawpy.ThumbFormat.BITMAP, np.asarray(halves()))

    monkeypatch.setattr(rawpy, "imread", lambda path: Raw())
    path = tmp_path / "x.nef"
    path.write_bytes(b"stand-in")
    pixels = load_image(path, (16, 16)).astype(int)
    assert np.abs(pixels[8, 1] - BLUE).max() < 40 and np.abs(pixels[8, 14] - RED).max() < 40
