"""Videos: a few keyframes spread over a clip, read with PyAV, each prepared as a photo is."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from catsort.errors import CatsortError
from catsort.images import prepare, upright

#: File name extensions of the videos classify looks at (lower case).
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".avi", ".mkv", ".webm"})

#: How many frames of a clip are looked at, spread evenly over it (docs/performance.md).
FRAMES = 3

#: The most pixels decoded for one clip: FRAMES frames of 1080p (as H.264 codes it, in rows of
#: 16 lines: 1088). A larger clip gives fewer frames (a 1440p or 4K clip one, from its
#: middle): one keyframe of a phone's 4K HEVC (45 Mbit/s) takes as long to decode as six
#: 12 MP JPEGs (docs/performance.md).
PIXEL_BUDGET = FRAMES * 1920 * 1088

T = TypeVar("T")

# Options for the decoder FFmpeg runs while it opens a file (avformat_find_stream_info).
_PROBE = {"skip_frame": "all"}

_TRUNCATED = "truncated video (the file ends early: an unfinished copy or upload?)"
_CANNOT_SEEK = "damaged video (cannot seek in it: an unfinished copy or upload?)"
# What _next_keyframe returns when the file ends before a keyframe.
_END = object()

# Packets read past a seek looking for a keyframe before the sample is given up: a broken
# index must not make catsort read a whole long clip.
_SCAN_LIMIT = 1000

# A clip's rotation (degrees counter-clockwise, from its display matrix) as the EXIF
# orientation that turns a frame upright, so frames go through the photos' own `upright`.
_ROTATION_TO_ORIENTATION = {90: 8, 180: 3, 270: 6}


def is_video_name(path: str | os.PathLike) -> bool:
    """Tell whether a file name has one of the video extensions classify reads."""
    return os.path.splitext(os.fspath(path))[1].lower() in VIDEO_EXTENSIONS


def load_frames(
    path: str | os.PathLike, size: tuple[int, int], count: int = FRAMES
) -> list[np.ndarray]:
    """Read up to ``count`` frames spread over a clip, each as the model sees a photo.

    Only keyframes are decoded: for each of ``count`` evenly spaced times, the keyframe at or
    before it (so a clip with few keyframes gives fewer frames, never the same one twice). A
    clip larger than 1080p gives fewer frames, so that no more than PIXEL_BUDGET pixels are
    decoded (at least one frame). Each frame is scaled down while it is converted to RGB,
    turned upright by the clip's rotation, and prepared as a photo is
    (``catsort.images.prepare``). Raises CatsortError with a one-line reason for a file that
    is not a video PyAV can read.
    """

    def prepared(frame: Any) -> np.ndarray:
        image, orientation = _picture(frame, max(size))
        return prepare(image, path, size, orientation)

    return _read(path, count, prepared)


def load_still(path: str | os.PathLike, side: int) -> Image.Image:
    """The keyframe in the middle of a clip, upright, RGB, scaled down to no less than ``side``
    pixels a side where it has them: a video's thumbnail. Raises CatsortError as load_frames."""

    def still(frame: Any) -> Image.Image:
        image, orientation = _picture(frame, side)
        return upright(image, orientation)

    return _read(path, 1, still)[0]


def _read(path: str | os.PathLike, count: int, convert: Callable[[Any], T]) -> list[T]:
    """Each of up to ``count`` keyframes spread over a clip, converted as it is decoded."""
    import av  # only when a video is met: sorting photos never loads FFmpeg

    try:
        with _open(av, path) as container:
            stream = _video_stream(container, path)
            count = min(count, _affordable(stream.codec_context))
            frames = [convert(frame) for frame in _keyframes(container, stream, count, path)]
    except CatsortError:
        raise
    except av.error.FFmpegError as exc:
        raise CatsortError(f"{path}: {_reason(path, exc)}") from None
    except OSError as exc:  # from Python itself, not FFmpeg: a link loop, a folder
        raise CatsortError(f"{path}: {exc.strerror or exc}") from None
    if not frames:
        raise CatsortError(f"{path}: no frame of the video could be decoded (damaged?)")
    return frames


def _open(av: Any, path: str | os.PathLike) -> Any:
    """The clip opened for reading, its metadata read leniently (a phone's odd title bytes
    are no reason to fail)."""
    # Opening a file decodes a few frames to learn the stream's parameters (for H.264, until
    # its reordering delay is guessed: up to 7 frames, 58 ms of a 1080p clip's 135); the
    # keyframes decoded next tell as much, so the probe decodes none (_PROBE).
    try:
        return av.open(os.fspath(path), metadata_errors="ignore", options=_PROBE)
    except TypeError:  # PyAV 19 reads metadata leniently itself and takes no metadata_errors
        return av.open(os.fspath(path), options=_PROBE)


def _video_stream(container: Any, path: str | os.PathLike) -> Any:
    """The clip's first video stream that is a moving picture (not a cover image)."""
    for stream in container.streams.video:
        if stream.disposition & stream.disposition.attached_pic:
            continue
        if stream.codec_context is None:  # FFmpeg knows no decoder for it
            raise CatsortError(f"{path}: video in a format catsort cannot decode")
        # One frame at a time: catsort's workers already keep every core busy.
        stream.codec_context.thread_count = 1
        return stream
    raise CatsortError(f"{path}: no video in it (audio only?)")


def _affordable(codec: Any) -> int:
    """How many frames of this size fit in PIXEL_BUDGET (at least one)."""
    pixels = (codec.width or 0) * (codec.height or 0)
    return max(1, PIXEL_BUDGET // pixels) if pixels else FRAMES


def _keyframes(container: Any, stream: Any, count: int, path: str | os.PathLike) -> Iterator[Any]:
    """The keyframes at or before ``count`` evenly spaced times, each once, in order.

    Only each keyframe's own packet is decoded, and the decoder drained at once: left to
    itself, it would hold a frame back until later ones arrive, decoding twice the pictures.
    A clip whose data ends before one of those times is truncated (an unfinished copy whose
    index came first): an error, not a clip judged on the frames it happens to have.
    """
    import av

    seen: set[int | None] = set()
    codec = stream.codec_context
    start = stream.start_time or 0
    length = _duration(container, stream)
    for index in range(count):
        offset = Fraction(index * 2 + 1, count * 2) * length  # the middle of each span
        try:
            container.seek(start + int(offset / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError:  # FFmpeg says EPERM for a seek that failed
            raise CatsortError(f"{path}: {_CANNOT_SEEK}") from None
        packet = _next_keyframe(container, stream)
        if packet is _END:
            raise CatsortError(f"{path}: {_TRUNCATED}")
        if packet is None or packet.pts in seen:
            continue
        seen.add(packet.pts)
        frames = codec.decode(packet) + codec.decode(None)
        codec.flush_buffers()
        if frames:
            yield frames[0]


def _next_keyframe(container: Any, stream: Any) -> Any:
    """The next keyframe packet of ``stream``; None when a few seconds' packets hold none,
    ``_END`` when the file ends first."""
    for scanned, packet in enumerate(container.demux(stream)):
        if packet.is_keyframe and packet.size:
            return packet
        if scanned > _SCAN_LIMIT:
            return None
    return _END


def _duration(container: Any, stream: Any) -> Fraction:
    """The clip's length in the stream's time, from the stream or else the container."""
    if stream.duration:
        return Fraction(stream.duration) * stream.time_base
    if container.duration:
        return Fraction(container.duration, 1_000_000)  # AV_TIME_BASE
    return Fraction(0)


def _picture(frame: Any, side: int) -> tuple[Image.Image, int]:
    """A decoded frame scaled down (to no less than ``side`` a side) while converted to RGB,
    and the EXIF orientation that turns it upright."""
    width, height = _reduced(frame.width, frame.height, side)
    image: Image.Image = frame.to_image(width=width, height=height, interpolation="AREA")
    return image, _ROTATION_TO_ORIENTATION.get(round(frame.rotation) % 360, 1)


def _reduced(width: int, height: int, side: int) -> tuple[int, int]:
    """The frame's size halved while both sides stay at least ``side``, as JPEG draft does."""
    factor = 1
    while factor < 8 and min(width, height) // (factor * 2) >= side:
        factor *= 2
    return max(1, width // factor), max(1, height // factor)


def _reason(path: str | os.PathLike, exc: Exception) -> str:
    """FFmpeg's failure as a reason a person can act on."""
    import av

    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return f"broken link (its target {os.path.realpath(path)} does not exist)"
        return "file not found (moved or deleted?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a video"
    if isinstance(exc, av.error.InvalidDataError):
        if _is_empty(path):
            return "empty file"
        return "not a video catsort can read (damaged, or an unfinished copy or upload?)"
    if isinstance(exc, av.error.EOFError):
        return _TRUNCATED
    if isinstance(exc, av.error.DecoderNotFoundError):
        return "video in a format catsort cannot decode"
    return f"damaged or unsupported video ({exc.strerror if hasattr(exc, 'strerror') else exc})"


def _is_empty(path: str | os.PathLike) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False
