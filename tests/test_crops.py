"""A second look reads a part of a photo from the cheapest version of it that has the detail."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from heicfile import libheif_available, write_heic_with_thumbnail
from PIL import Image

from catsort.crops import load_crop, needed

SIZE = (224, 224)
TWO_CELLS = (0.3, 0.3, 0.3 + 2 * 1.3 / 7, 0.3 + 2 * 1.3 / 7)  # a 2x2-cell look, 1.3x wide
needs_libheif = pytest.mark.skipif(
    libheif_available() is not None, reason=f"libheif cannot be called: {libheif_available()}"
)


#: How a camera stores an upright picture for each EXIF orientation (the inverse of showing it).
_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def plain(colour: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
    """A picture of one colour with some texture (HEVC encodes a flat one oddly at the edges)."""
    noise = np.random.default_rng(0).integers(-8, 9, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8))


def test_a_look_at_a_12_megapixel_jpeg_decodes_it_at_a_quarter_scale():
    width, height = needed(TWO_CELLS, SIZE)
    assert width >= 224 / (TWO_CELLS[2] - TWO_CELLS[0]) - 1  # the part at the model's size
    with Image.open(_jpeg(4032, 3024)) as img:
        img.draft("RGB", (width, height))
        assert img.size == (1008, 756)


def test_a_turned_photo_asks_for_its_stored_sides():
    wide = (0.0, 0.0, 1.0, 0.25)  # the whole width of the upright photo, a quarter of its height
    assert needed(wide, SIZE) == (224, 896)
    assert needed(wide, SIZE, orientation=6) == (896, 224)


@pytest.mark.parametrize("orientation", [2, 3, 6, 8])
@pytest.mark.parametrize("suffix", [".jpg", ".tif"])  # Pillow turns a TIFF as it loads it
def test_the_part_of_a_turned_photo_is_the_part_of_the_upright_photo(tmp_path, suffix, orientation):
    upright = np.zeros((1200, 1600, 3), np.uint8)
    upright[:600, :800] = (0, 0, 255)  # blue at the top left of the upright photo
    upright[600:, 800:] = (255, 0, 0)  # red at its bottom right
    stored = Image.fromarray(upright).transpose(_STORED[orientation])  # what a camera saved
    path = turned(tmp_path / f"turned{suffix}", stored, orientation)
    with Image.open(path) as img:
        assert img.getexif().get(0x0112) == orientation  # the file is what a camera would write
    top_left = load_crop(path, (0.05, 0.05, 0.45, 0.45), SIZE)
    bottom_right = load_crop(path, (0.55, 0.55, 0.95, 0.95), SIZE)
    assert top_left is not None and bottom_right is not None
    assert top_left.mean(axis=(0, 1))[2] > 200 and top_left.mean(axis=(0, 1))[0] < 50
    assert bottom_right.mean(axis=(0, 1))[0] > 200 and bottom_right.mean(axis=(0, 1))[2] < 50


def test_a_turned_jpeg_is_decoded_for_its_part_in_its_stored_axes(tmp_path):
    # Stored 1000x4000, shown 4000x1000: a band a quarter of the height needs 896 stored
    # columns; asking for them as rows would decode at 1/4 and leave the part 62 pixels high.
    path = turned(tmp_path / "tall.jpg", Image.new("RGB", (1000, 4000), (90, 120, 60)), 6)
    part = load_crop(path, (0.0, 0.0, 1.0, 0.25), SIZE)
    assert part is not None and part.shape == (224, 224, 3)


def test_a_photo_too_small_for_the_part_gets_no_look(tmp_path):
    # 500x375, as the data set's photos: a 2x2-cell part would be 186 pixels wide, upscaled.
    path = tmp_path / "small.jpg"
    Image.new("RGB", (500, 375), (90, 120, 60)).save(path)
    assert load_crop(path, TWO_CELLS, SIZE) is None
    large = load_crop(path, (0.1, 0.1, 0.9, 0.9), SIZE)
    assert large is not None and large.shape == (224, 224, 3)
    Image.new("RGB", (800, 600), (90, 120, 60)).save(path)  # the part 223 pixels high: enough
    assert load_crop(path, TWO_CELLS, SIZE) is not None


def test_a_turned_photo_is_measured_upright_for_its_part(tmp_path):
    # Stored 300x1000 and turned to 1000x300: its left half is 500x300, enough for the part.
    path = turned(tmp_path / "turned.jpg", Image.new("RGB", (300, 1000), (90, 120, 60)), 6)
    part = load_crop(path, (0.0, 0.0, 0.5, 1.0), SIZE)
    assert part is not None and part.shape == (224, 224, 3)
    assert load_crop(path, (0.0, 0.0, 1.0, 0.5), SIZE) is None  # 1000x150: too low


@needs_libheif
def test_a_phone_photo_whose_thumbnail_is_too_small_gets_no_look(tmp_path):
    # Its 320-px thumbnail would give the part upscaled, and decoding the image in full would
    # cost a look 75 photos' time.
    path = write_heic_with_thumbnail(
        tmp_path / "IMG_0001.HEIC",
        plain((200, 30, 30), (1280, 960)),
        plain((30, 30, 200), (640, 480)),
    )
    assert load_crop(path, TWO_CELLS, SIZE) is None


@needs_libheif
def test_a_thumbnail_large_enough_for_the_part_is_read_for_it(tmp_path):
    # The thumbnail's picture differs from the image's here, to tell which was read.
    path = write_heic_with_thumbnail(
        tmp_path / "IMG_0003.HEIC",
        plain((200, 30, 30), (2048, 1536)),
        plain((30, 30, 200), (2048, 1536)),
        box=1024,
    )
    part = load_crop(path, TWO_CELLS, SIZE)
    assert part is not None and part.shape == (224, 224, 3)
    assert part.mean(axis=(0, 1))[2] > 150, "read from the 1024-px thumbnail"


@needs_libheif
def test_a_letterboxed_thumbnail_is_not_read_for_a_part(tmp_path):
    bars = Image.new("RGB", (2048, 1536))
    bars.paste(plain((30, 30, 200), (2048, 1200)), (0, 168))
    path = write_heic_with_thumbnail(
        tmp_path / "IMG_0002.HEIC", plain((200, 30, 30), (2048, 1536)), bars, box=1024
    )
    assert load_crop(path, TWO_CELLS, SIZE) is None


def turned(path: Path, stored: Image.Image, orientation: int) -> Path:
    """Save ``stored`` with the EXIF orientation that shows it turned, as a camera writes it."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes(), quality=95)  # a TIFF's own compression ignores it
    return path


def _jpeg(width: int, height: int) -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 60)).save(data, "JPEG")
    data.seek(0)
    return data
