"""Decoding each format the cheapest way that still covers the model's input size.

Every photo ends up as a few hundred pixels a side, so its decoder is asked for the smallest
version of it that still covers that size: a JPEG decodes at 1/2, 1/4 or 1/8 scale; a HEIF
(HEIC) photo decodes from the thumbnail embedded in it when that is a scaled copy of the image;
a TIFF pyramid decodes from its reduced-resolution page. The other formats (PNG, WebP, GIF, BMP,
AVIF, a HEIF without a usable thumbnail) decode in full, and ``resize`` first shrinks a large
result by whole factors. docs/performance.md has the cost of each, per format and size.
"""

from __future__ import annotations

import io
import os
from typing import Literal

import numpy as np
from PIL import Image

#: Before its bilinear filter, ``resize`` shrinks an image by the whole factor that leaves it
#: at least this many times the target size (Pillow's reducing_gap). Only images over three
#: times the model's size are touched (none of the training photos); at 3 the pixels differ
#: from the filter alone by one or two levels in 255 at most, for a sixth of the time on 12 MP.
REDUCING_GAP = 3.0

# An edge row or column of a thumbnail with no pixel brighter than this (0-255) is taken for a
# letterbox bar, as some cameras put on thumbnails (strukturag/libheif issue 1406): black, as
# those bars are, within the encoder's noise. A photo that dark along a whole edge is then
# decoded in full: slower, never wrong (7 of the 684 validation photos saved as HEIC whose
# thumbnail pillow-heif offers, mostly black borders of their own; a rule on the mean and 95th
# percentile instead of every pixel refused 20).
_BAR_PEAK = 16

#: What ``reduce_decoding`` set an image up to decode.
Reduction = Literal["scaled", "thumbnail", "page"]

try:  # AVIF: Pillow 11.3 and later read it with libavif.
    from PIL import AvifImagePlugin
except ImportError:  # pragma: no cover - older Pillow
    AvifImagePlugin = None  # type: ignore[assignment]
else:
    AvifImagePlugin.DEFAULT_MAX_THREADS = 1  # one thread an image unless set_decode_threads

try:  # Phone photos (HEIC/HEIF); optional so that a broken wheel never stops JPEG users.
    import pillow_heif
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None  # type: ignore[assignment]
else:
    # AVIF stays with Pillow's own plugin (libavif): pillow-heif's wheels decode no AV1.
    pillow_heif.register_heif_opener(thumbnails=True, decode_threads=1)


def set_decode_threads(threads: int) -> None:
    """Let libheif (HEIF) and libavif (AVIF) decode one image on at most ``threads`` threads.

    They can decode a large image's tiles in parallel (on 4 threads, or every core, by their
    own defaults); catsort starts them at one. classify runs a worker per core and gives each
    decoder the worker's share, as its model gets: more threads than that only take turns on
    the same cores, for 1-3 % more CPU time a photo (docs/performance.md, "Threads").
    """
    threads = max(1, threads)
    if pillow_heif is not None:
        pillow_heif.options.DECODE_THREADS = threads
    if AvifImagePlugin is not None:
        AvifImagePlugin.DEFAULT_MAX_THREADS = threads


def open_image(source: str | os.PathLike | bytes, size: tuple[int, int]) -> Image.Image:
    """Open an image file (a path, or its bytes) set up to decode the cheapest way for ``size``.

    ``size`` is the model's (height, width). A HEIF thumbnail chosen for it is decoded here and
    checked: when an edge of it is a letterbox bar, the file is opened again to decode the image
    itself. Raises what ``PIL.Image.open`` raises.
    """
    img = _open(source)
    try:
        if reduce_decoding(img, size) == "thumbnail" and letterboxed(img):
            img.close()
            img = _open(source)  # not reduced again: the image itself
    except BaseException:
        img.close()
        raise
    return img


def reduce_decoding(img: Image.Image, size: tuple[int, int]) -> Reduction | None:
    """Ask the decoder of an opened image for its smallest version that covers ``size``.

    Call it before the pixels are loaded. Returns what was chosen, or None when the image
    decodes in full. The result is always at least ``max(size)`` on each side (or the image's
    own size), so what the model sees is filtered from as many pixels as it needs.
    """
    side = max(size)
    if img.format == "JPEG":
        before = img.size
        img.draft("RGB", (side, side))  # DCT scaling by 1/2, 1/4 or 1/8
        return "scaled" if img.size != before else None
    if img.format in ("HEIF", "AVIF"):
        # pillow-heif (1.8+) picks the smallest thumbnail that covers the size and is a scaled
        # copy of the image: same aspect ratio, rotation, mirroring, crop and colours; it
        # decodes it here and skips one that fails to decode. Pillow's AVIF plugin has none.
        return "thumbnail" if img.draft(img.mode, (side, side)) is not None else None
    if img.format == "TIFF" and getattr(img, "n_frames", 1) > 1:
        return "page" if _reduced_page(img, side) else None
    return None


def letterboxed(img: Image.Image) -> bool:
    """Tell whether an edge row or column of the image is a black bar (the image is loaded)."""
    grey = np.asarray(img.convert("L"))
    if grey.ndim != 2 or min(grey.shape) < 2:
        return False
    return any(edge.max() <= _BAR_PEAK for edge in (grey[0], grey[-1], grey[:, 0], grey[:, -1]))


def resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image resized to ``size`` (height, width) with the bilinear filter, squashed."""
    height, width = size
    return img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)


def heif_problem(source: str | os.PathLike | bytes) -> str | None:
    """libheif's reason (one line) for not reading a HEIF file; None if it is none or reads."""
    if pillow_heif is None:
        return None
    try:
        with open(source, "rb") if not isinstance(source, bytes) else io.BytesIO(source) as file:
            head = file.read(64)
        if not pillow_heif.get_file_mimetype(head).startswith("image/hei"):
            return None  # AVIF, or not HEIF at all: Pillow's own plugins answer for those
        pillow_heif.open_heif(source)
    except OSError:
        return None  # the caller words a file it cannot read
    except Exception as exc:  # libheif's errors come as ValueError, RuntimeError, EOFError...
        return " ".join(str(exc).split())
    return None


def _open(source: str | os.PathLike | bytes) -> Image.Image:
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def _reduced_page(img: Image.Image, side: int) -> bool:
    """Seek a multi-page TIFF to its smallest reduced-resolution copy of the first page.

    A page counts when its NewSubfileType says "reduced resolution" (pyramids, as libvips and
    slide scanners write them), it covers ``side`` x ``side``, has the first page's aspect
    ratio and orientation; otherwise the first page stays (the photo of a multi-page file).
    """
    tags = img.tag_v2  # type: ignore[attr-defined]
    width, height = img.size
    orientation = tags.get(0x0112, 1)
    best: tuple[int, int] | None = None  # (pixels, page)
    for page in range(1, getattr(img, "n_frames", 1)):
        img.seek(page)
        w, h = img.size
        tags = img.tag_v2  # type: ignore[attr-defined]
        reduced = int(tags.get(254, 0)) & 1  # NewSubfileType: a reduced-resolution copy
        if not reduced or min(w, h) < side or tags.get(0x0112, 1) != orientation:
            continue
        if abs(w * height - h * width) > 2 * max(width, height):  # another aspect ratio
            continue
        if best is None or w * h < best[0]:
            best = (w * h, page)
    img.seek(0 if best is None else best[1])
    return best is not None
