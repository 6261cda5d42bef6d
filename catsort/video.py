"""Videos: a few keyframes spread over a clip, read with PyAV, each prepared as a photo is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image

from catsort.errors import CatsortError
from catsort.images import prepare

#: File name extensions of the videos classify looks at (lower case).
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".avi", ".mkv", ".webm"})

#: How many frames of a clip are looked at, spread evenly over it (docs/performance.md).
FRAMES = 3

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
    before it (so a clip with few keyframes gives fewer frames, never the same one twice). Each
    frame is scaled down while it is converted to RGB, turned upright by the clip's rotation,
    and prepared as a photo is (``catsort.images.prepare``). Raises CatsortError with a
    one-line reason for a file that is not a video PyAV can read.
    """
    import av  # only when a video is met: sorting photos never loads FFmpeg

    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as container:
            stream = _video_stream(container, path)
            frames = [
                _prepared(frame, path, size) for frame in _keyframes(container, stream, count)
            ]
    except CatsortError:
        raise
    except av.error.FFmpegError as exc:
        raise CatsortError(f"{path}: {_reason(path, exc)}") from None
    except OSError as exc:  # from Python itself, not FFmpeg: a link loop, a folder
        raise CatsortError(f"{path}: {exc.strerror or exc}") from None
    if not frames:
        raise CatsortError(f"{path}: no frame of the video could be decoded (damaged?)")
    return frames


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


def _keyframes(container: Any, stream: Any, count: int) -> Iterator[Any]:
    """The keyframes at or before ``count`` evenly spaced times, each once, in order.

    Only each keyframe's own packet is decoded, and the decoder drained at once: left to
    itself, it would hold a frame back until later ones arrive, decoding twice the pictures.
    """
    seen: set[int | None] = set()
    codec = stream.codec_context
    start = stream.start_time or 0
    length = _duration(container, stream)
    for index in range(count):
        offset = Fraction(index * 2 + 1, count * 2) * length  # the middle of each span
        container.seek(start + int(offset / stream.time_base), stream=stream, backward=True)
        packet = _next_keyframe(container, stream)
        if packet is None or packet.pts in seen:
            continue
        seen.add(packet.pts)
        frames = codec.decode(packet) + codec.decode(None)
        codec.flush_buffers()
        if frames:
            yield frames[0]


def _next_keyframe(container: Any, stream: Any) -> Any:
    """The next keyframe packet of ``stream``, or None within a few seconds' packets."""
    for scanned, packet in enumerate(container.demux(stream)):
        if packet.is_keyframe and packet.size:
            return packet
        if scanned > _SCAN_LIMIT:
            return None
    return None


def _duration(container: Any, stream: Any) -> Fraction:
    """The clip's length in the stream's time, from the stream or else the container."""
    if stream.duration:
        return Fraction(stream.duration) * stream.time_base
    if container.duration:
        return Fraction(container.duration, 1_000_000)  # AV_TIME_BASE
    return Fraction(0)


def _prepared(frame: Any, path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """One decoded frame as the model sees it: scaled, RGB, upright, resized."""
    width, height = _reduced(frame.width, frame.height, max(size))
    image: Image.Image = frame.to_image(width=width, height=height, interpolation="AREA")
    orientation = _ROTATION_TO_ORIENTATION.get(round(frame.rotation) % 360, 1)
    return prepare(image, path, size, orientation)


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
    if isinstance(exc, av.error.DecoderNotFoundError):
        return "video in a format catsort cannot decode"
    return f"damaged or unsupported video ({exc.strerror if hasattr(exc, 'strerror') else exc})"


def _is_empty(path: str | os.PathLike) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False
