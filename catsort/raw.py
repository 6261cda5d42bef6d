"""RAW camera files: the embedded JPEG preview, read with rawpy (LibRaw), never the raw data."""

from __future__ import annotations

import io
import os

from PIL import Image

from catsort.errors import CatsortError

#: RAW file extensions classify reads through their embedded preview (lower case).
RAW_EXTENSIONS = frozenset(
    {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw"}
)

# LibRaw's sizes.flip (dcraw's code) as the EXIF orientation that shows the image upright:
# dcraw maps orientation o to "50132467"[o & 7].
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}


def is_raw_name(path: str | os.PathLike) -> bool:
    """Tell whether a file name has one of the RAW extensions classify reads."""
    return os.path.splitext(os.fspath(path))[1].lower() in RAW_EXTENSIONS


def open_preview(path: str | os.PathLike) -> tuple[Image.Image, int]:
    """Open a RAW file's embedded preview: the image and the EXIF orientation to apply to it.

    The orientation is the preview's own EXIF one when it says to turn it, otherwise the RAW
    file's (camera previews are mostly stored as the sensor saw them). Raises CatsortError with a
    one-line reason when there is no preview Pillow can read; OSErrors (missing, permission) pass
    through for the caller to word.
    """
    try:
        import rawpy  # only when a RAW file is met: LibRaw is not needed to sort JPEGs
    except ImportError:
        raise CatsortError(f"{path}: reading RAW files needs rawpy (pip install rawpy)") from None

    # A missing or unreadable file fails here, with the OSError the caller words.
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            raise CatsortError(f"{path}: empty file")
    try:
        with rawpy.imread(os.fspath(path)) as raw:
            flip = raw.sizes.flip
            thumb = raw.extract_thumb()
    except rawpy.LibRawNoThumbnailError:
        raise CatsortError(f"{path}: RAW file without an embedded preview") from None
    except rawpy.LibRawUnsupportedThumbnailError:
        raise CatsortError(f"{path}: RAW preview in a format LibRaw cannot give") from None
    except rawpy.LibRawFileUnsupportedError:
        raise CatsortError(f"{path}: not a RAW file LibRaw can read") from None
    except rawpy.LibRawError as exc:
        raise CatsortError(f"{path}: damaged RAW file ({_message(exc)})") from None
    raw_orientation = _FLIP_TO_ORIENTATION.get(flip, 1)
    if not isinstance(thumb.data, bytes):  # a bitmap preview: (height, width, 3) pixels
        return Image.fromarray(thumb.data), raw_orientation
    try:
        img = Image.open(io.BytesIO(thumb.data))
    except Exception as exc:
        raise CatsortError(f"{path}: RAW file whose preview cannot be read ({exc})") from None
    own = img.getexif().get(0x0112, 1)  # Orientation
    return img, own if own not in (None, 1) else raw_orientation


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text) or type(exc).__name__
