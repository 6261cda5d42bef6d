"""A part of a photo as the model sees a whole one: the second look at a pet far away.

A pet at a quarter of the photo's width is 56 pixels wide in the model's 224x224 view of the
whole photo: the model can tell where it is (``catsort.regions``) but not always what it is.
The second look decodes the photo again at the resolution that part needs and gives the model
that part alone, prepared as ``catsort.images.prepare`` prepares a whole photo (upright, RGB,
bilinear to the model's size).

A part the photo cannot give at the model's size gets no look: upscaled, it puts more pets
into the wrong folder than the look finds (pets pasted at a quarter of the width of scenes
shrunk to a phone thumbnail's 320x240: 6.5 % wrong, against at most 2 % from the full-size
photos). That leaves small photos, and a phone's HEIC (HEIF) photos, to the whole-photo label
where the part is small: a HEIC is read for a part from a thumbnail that covers it, never in
full, which costs about 75 times its thumbnail (docs/performance.md): one look would cost as
much as 75 photos. A JPEG is decoded at the smallest DCT scale that gives the part.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
from PIL import Image

from catsort.decoding import letterboxed
from catsort.errors import CatsortError
from catsort.images import to_rgb, upright
from catsort.raw import is_raw_name, open_preview
from catsort.regions import Box

#: A part is read at the smallest scale that gives it the model's size on each side, as a whole
#: photo is (``catsort.decoding``). Less is cheaper but worse: read at 1/2 scale, a 2x2-cell look
#: at a 1600x1200 JPEG is 223 pixels high instead of 446 (3.2 instead of 5.9 ms), and 6 of 200
#: pets pasted at a quarter of the width went to the wrong folder instead of 2.
ENOUGH = 1.0
#: A photo that gives the part less than this share of the model's size gets no look: a few
#: percent upscaled changes nothing the model sees (a 2x2-cell look at an 800x600 photo is 223
#: pixels high), half of it does (a 320-px thumbnail).
SMALLEST = 0.95
#: EXIF orientations that swap width and height.
_TRANSPOSED = {5, 6, 7, 8}


def load_crop(
    path: str | os.PathLike, box: Box, size: tuple[int, int], data: bytes | None = None
) -> np.ndarray | None:
    """The part ``box`` of a photo, as the model sees a whole one: RGB uint8 (height, width, 3).

    ``box`` is (x0, y0, x1, y1) relative to the upright photo. ``data``: the file's bytes, read
    already (object storage). None when the photo cannot give the part at ``size`` (height,
    width) without upscaling it or decoding a HEIC in full. Raises CatsortError with the reason
    when the photo cannot be read again (it was read a moment before, so this is rare).
    """
    try:
        if data is None and is_raw_name(path):
            preview, orientation = open_preview(path)
            with preview as img:
                return _crop(img, box, size, orientation)
        img = _open(path if data is None else data, box, size)
        if img is None:
            return None
        with img:
            return _crop(img, box, size)
    except CatsortError:
        raise
    except Exception as exc:  # whatever load_image would have worded: the look is skipped
        raise CatsortError(f"{path}: cannot read a part of the photo ({exc})") from None


def needed(box: Box, size: tuple[int, int], orientation: int = 1) -> tuple[int, int]:
    """The (width, height) of the stored image that gives the part ``box`` of the upright
    photo ``ENOUGH`` of ``size`` (height, width) on each side."""
    height, width = size
    x0, y0, x1, y1 = box
    across = math.ceil(ENOUGH * width / max(x1 - x0, 1e-6))
    down = math.ceil(ENOUGH * height / max(y1 - y0, 1e-6))
    return (down, across) if orientation in _TRANSPOSED else (across, down)


def _open(source: str | os.PathLike | bytes, box: Box, size: tuple[int, int]) -> Image.Image | None:
    """The photo opened, or None for a HEIC with no thumbnail that gives the part: only its
    image in full would."""
    img: Image.Image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    try:
        # pillow-heif applies the rotation itself: a HEIF's sizes are the upright photo's.
        if img.format == "HEIF" and (
            img.draft(img.mode, needed(box, size)) is None or letterboxed(img)
        ):
            img.close()
            return None
    except BaseException:
        img.close()
        raise
    return img


def _crop(
    img: Image.Image, box: Box, size: tuple[int, int], orientation: int | None = None
) -> np.ndarray | None:
    """The part, or None when the image is too small to give it at ``size``."""
    height, width = size
    x0, y0, x1, y1 = box
    if orientation is None:
        if img.format != "JPEG":
            # Pillow turns a TIFF upright as it loads it (and drops the tag), and PNG may keep
            # its EXIF after the pixels: read the tag the pixels will have. A JPEG is read
            # before it is decoded, at the scale its draft asks for.
            img.load()
        orientation = img.getexif().get(0x0112, 1)
    if img.format == "JPEG":  # a photo, or a RAW file's preview: DCT scaling by 1/2, 1/4, 1/8
        img.draft("RGB", needed(box, size, orientation))
    w, h = img.size[::-1] if orientation in _TRANSPOSED else img.size
    if (x1 - x0) * w < SMALLEST * width or (y1 - y0) * h < SMALLEST * height:
        return None
    img = to_rgb(upright(img, orientation))
    w, h = img.size
    left, top = math.floor(x0 * w), math.floor(y0 * h)
    right, bottom = max(math.ceil(x1 * w), left + 1), max(math.ceil(y1 * h), top + 1)
    part = img.crop((left, top, right, bottom))
    return np.asarray(part.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)
