"""Small upright JPEGs of photos, for pages that show them (the HTML report, the review page).

Read as classify reads photos: each format decoded the cheapest way that covers the size asked
(catsort.decoding: large JPEGs at a reduced scale, HEIC from the thumbnail it embeds when that
is a scaled copy of the image and large enough), RAW files from their embedded preview, videos
from the keyframe in their middle, turned upright by their orientation.
"""

from __future__ import annotations

import io
import os

from PIL import Image, ImageOps

from catsort.decoding import open_image, reduce_decoding
from catsort.errors import CatsortError
from catsort.images import to_rgb, upright
from catsort.raw import is_raw_name, open_preview
from catsort.video import is_video_name, load_still


def thumbnail_jpeg(path: str | os.PathLike[str], size: int, quality: int = 72) -> bytes | None:
    """The photo (a video: its middle keyframe) fitted into ``size`` x ``size`` pixels as JPEG
    bytes; None if it cannot be read (the page shows a placeholder instead)."""
    try:
        orientation = None
        if is_video_name(path):  # upright already, by the clip's rotation
            opened, orientation = load_still(path, size), 1
        elif is_raw_name(path):  # a RAW file shows its embedded preview, as it was classified
            opened, orientation = open_preview(path)
            reduce_decoding(opened, (size, size))
        else:
            opened = open_image(path, (size, size))
        with opened as img:
            if orientation is None:
                img = ImageOps.exif_transpose(img) or img
            else:
                img = upright(img, orientation)
            thumb = to_rgb(img)
            thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            thumb.save(buffer, "JPEG", quality=quality, optimize=True)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError, CatsortError):
        return None
    return buffer.getvalue()
