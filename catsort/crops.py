"""A part of a photo as the model sees a whole one: the second look at a pet far away.

A pet at a quarter of the photo's width is 56 pixels wide in the model's 224x224 view of the
whole photo: the model can tell where it is (``catsort.regions``) but not always what it is.
The second look decodes the photo again at the resolution that part needs and gives the model
that part alone, prepared as ``catsort.images.prepare`` prepares a whole photo (upright, RGB,
bilinear to the model's size).
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
from PIL import Image

from catsort.errors import CatsortError
from catsort.images import to_rgb, upright
from catsort.raw import is_raw_name, open_preview
from catsort.regions import Box


def load_crop(
    path: str | os.PathLike, box: Box, size: tuple[int, int], data: bytes | None = None
) -> np.ndarray:
    """The part ``box`` of a photo, as the model sees a whole one: RGB uint8 (height, width, 3).

    ``box`` is (x0, y0, x1, y1) relative to the upright photo. A JPEG is decoded at the
    smallest scale that still gives the part at least ``size``. ``data``: the file's bytes,
    read already (object storage). Raises CatsortError with the reason when the photo cannot
    be read again (it was read a moment before, so this is rare).
    """
    try:
        if data is None and is_raw_name(path):
            preview, orientation = open_preview(path)
            with preview as img:
                return _crop(img, box, size, orientation)
        with Image.open(path if data is None else io.BytesIO(data)) as img:
            return _crop(img, box, size)
    except CatsortError:
        raise
    except Exception as exc:  # whatever load_image would have worded: the look is skipped
        raise CatsortError(f"{path}: cannot read a part of the photo ({exc})") from None


def _crop(img: Image.Image, box: Box, size: tuple[int, int], orientation: int | None = None):
    height, width = size
    x0, y0, x1, y1 = box
    if img.format == "JPEG":
        # Both sides at least what the part needs, whichever way the photo is turned.
        side = math.ceil(max(width / (x1 - x0), height / (y1 - y0)))
        img.draft("RGB", (side, side))
    img = to_rgb(upright(img, orientation))
    w, h = img.size
    left, top = math.floor(x0 * w), math.floor(y0 * h)
    right, bottom = max(math.ceil(x1 * w), left + 1), max(math.ceil(y1 * h), top + 1)
    part = img.crop((left, top, right, bottom))
    return np.asarray(part.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)
