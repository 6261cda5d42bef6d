"""Page thumbnails read each photo as classify does: a HEIC from its embedded thumbnail."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from heicfile import heic_writer_missing, libheif_available, write_heic, write_heic_with_thumbnail
from PIL import Image

from catsort.thumbnails import thumbnail_jpeg

needs_heic = pytest.mark.skipif(
    heic_writer_missing() is not None, reason=f"cannot write HEIC: {heic_writer_missing()}"
)
needs_libheif = pytest.mark.skipif(
    libheif_available() is not None, reason=f"libheif cannot be called: {libheif_available()}"
)


def colour(data: bytes | None) -> tuple[int, int, int]:
    """The mean colour of a thumbnail's JPEG."""
    assert data is not None
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB").resize((1, 1)).getpixel((0, 0))


@needs_libheif
def test_a_heics_page_thumbnail_comes_from_its_embedded_one_when_that_is_big_enough(
    tmp_path: Path,
):
    # The embedded thumbnail is blue, the image red: the colour shows which was decoded.
    red = Image.new("RGB", (1280, 960), (220, 30, 30))
    path = write_heic_with_thumbnail(
        tmp_path / "IMG_0001.HEIC", red, Image.new("RGB", (1280, 960), (30, 30, 220))
    )

    small = colour(thumbnail_jpeg(path, 160))  # the report's size: 320 px covers it
    large = colour(thumbnail_jpeg(path, 640))  # a review page's large view: the image itself

    assert small[2] > 150 and small[0] < 80
    assert large[0] > 150 and large[2] < 80


@needs_heic
def test_a_turned_heics_page_thumbnail_is_upright(tmp_path: Path):
    # Red left half, blue right half, stored with the rotation of a phone held upright.
    image = Image.new("RGB", (640, 480), (220, 30, 30))
    image.paste((30, 30, 220), (320, 0, 640, 480))
    path = write_heic(tmp_path / "IMG_0002.HEIC", image, orientation=6)

    data = thumbnail_jpeg(path, 160)

    assert data is not None
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (120, 160)  # portrait, as the phone showed it
        top, bottom = thumb.convert("RGB").getpixel((60, 20)), thumb.getpixel((60, 140))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # turned a quarter clockwise
