"""Reading photos: the one preprocessing function that training and classify share."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from catsort.decoding import heif_problem, open_image, reduce_decoding, resize
from catsort.errors import CatsortError
from catsort.raw import is_raw_name, open_preview

#: File name extensions classify looks at when it walks a folder (lower case).
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".webp",
        ".heic",
        ".heif",
        ".avif",
    }
)

#: Images smaller than this on either side carry no usable picture: they are skipped.
MIN_SIDE = 8

# EXIF orientation values and the transposition that shows the photo upright.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Formats where more than one frame means an animation rather than a photo. An animated GIF is
# classified on its first frame (what Pillow opens it at): many phone "photos" are shared as GIFs.
_ANIMATED_FORMATS = {"PNG", "WEBP"}


class ImageSkipped(CatsortError):
    """An image catsort deliberately does not classify (too small to tell); not a failure."""


def is_image_name(path: str | os.PathLike) -> bool:
    """Tell whether a file name has one of the image extensions Pillow reads for classify."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def is_photo_name(path: str | os.PathLike) -> bool:
    """Tell whether a file name is one classify looks at: an image or a RAW file."""
    return is_image_name(path) or is_raw_name(path)


def load_image(
    path: str | os.PathLike, size: tuple[int, int], data: bytes | None = None
) -> np.ndarray:
    """Read an image file as the model sees it: RGB uint8 pixels of shape (height, width, 3).

    A RAW file is read through its embedded preview; every other format with Pillow, decoded
    the cheapest way that covers ``size`` (catsort.decoding). Both go through ``prepare``.
    Raises CatsortError with a one-line reason for anything unreadable, and ImageSkipped (a
    CatsortError) for an image too small to classify. With ``data`` (the file's bytes, read
    from object storage) the image is decoded from those with Pillow; ``path`` only names it
    in messages.
    """
    try:
        if data is None and is_raw_name(path):
            preview, orientation = open_preview(path)
            with preview as img:
                reduce_decoding(img, size)
                return prepare(img, path, size, orientation)
        with open_image(path if data is None else data, size) as img:
            return prepare(img, path, size)
    except CatsortError:
        raise
    except FileNotFoundError:
        if os.path.islink(path):
            target = os.path.realpath(path)  # the end of a chain of links: what is missing
            raise CatsortError(
                f"{path}: broken link (its target {target} does not exist)"
            ) from None
        raise CatsortError(f"{path}: file not found (moved or deleted?)") from None
    except IsADirectoryError:
        raise CatsortError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise CatsortError(f"{path}: permission denied") from None
    except UnidentifiedImageError:
        empty = _is_empty(path) if data is None else not data
        problem = None if empty else heif_problem(path if data is None else data)
        if empty:
            reason = "empty file"
        elif problem is None:
            reason = "not an image catsort can read"
        elif _truncated(problem):
            reason = _TRUNCATED
        else:
            reason = f"damaged HEIF image ({problem})"
        raise CatsortError(f"{path}: {reason}") from None
    except Image.DecompressionBombError as exc:
        raise CatsortError(f"{path}: image too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
            raise CatsortError(f"{path}: symbolic link loop (it leads back to itself)") from None
        # Truncated or corrupt data surfaces here, from open() or from the decoder.
        message = " ".join(str(exc).split())
        if _truncated(message):
            raise CatsortError(f"{path}: {_TRUNCATED}") from None
        raise CatsortError(f"{path}: damaged or unsupported image ({message})") from None


def prepare(
    img: Image.Image,
    path: str | os.PathLike,
    size: tuple[int, int],
    orientation: int | None = None,
) -> np.ndarray:
    """The one preprocessing of an opened image, for every format: what the model sees.

    The image (set up by ``decoding.open_image`` or ``reduce_decoding`` to decode a smaller
    version of itself where its format allows) is turned upright (its EXIF orientation, or
    ``orientation`` when given), made RGB from any pixel mode, and resized to ``size`` (height,
    width) with bilinear filtering, squashing rather than cropping so nothing at the edges is
    lost.
    """
    _check_frames(img, path)
    img = upright(img, orientation)
    if min(img.size) < MIN_SIDE:
        raise ImageSkipped(f"{path}: too small to tell ({img.width}x{img.height} pixels)")
    return np.asarray(resize(to_rgb(img), size), dtype=np.uint8)


def quiet_pillow_warnings() -> None:
    """Keep Pillow's warnings (damaged EXIF in a photo it decodes, big images) off the screen."""
    # Neither is the user's to act on: Pillow still raises for real bombs and broken files.
    # Set once for the process: decoding runs in worker threads, where catch_warnings races.
    warnings.filterwarnings("ignore", module="PIL")


def upright(img: Image.Image, orientation: int | None = None) -> Image.Image:
    """The image turned the way its EXIF (or XMP) orientation tag, or ``orientation``, says."""
    img.load()  # some formats (PNG) only reveal their EXIF block once the pixels are read
    if orientation is None:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    method = _TRANSPOSE.get(orientation)
    # Unlike ImageOps.exif_transpose, an upright image is not copied: a tenth of the decoding
    # time for a small photo.
    return img if method is None else img.transpose(method)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert an image in any Pillow mode to 8-bit RGB, putting transparency on white."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16/32-bit greyscale: Pillow's convert("L") clips instead of scaling.
        values = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if values.max(initial=0) > 255 else 255.0
        grey = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float64))
        low, high = values.min(initial=0), values.max(initial=1)
        grey = (values - low) / (high - low or 1.0) * 255.0
        return Image.fromarray(grey.astype(np.uint8), "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def _check_frames(img: Image.Image, path: str | os.PathLike) -> None:
    frames = getattr(img, "n_frames", 1)
    if img.format in _ANIMATED_FORMATS and frames > 1:
        raise CatsortError(f"{path}: animated image ({frames} frames), not a photo")


_TRUNCATED = "truncated image (the file ends early: an unfinished copy or download?)"


def _truncated(message: str) -> bool:
    """Tell whether a decoder's message says the data ended early."""
    # Pillow words it two ways ("truncated"), libheif others; none says how much is missing.
    text = message.lower()
    return "truncated" in text or "end of file" in text or "cannot read full" in text


def _is_empty(path: str | os.PathLike) -> bool:
    try:
        return Path(path).stat().st_size == 0
    except OSError:
        return False
