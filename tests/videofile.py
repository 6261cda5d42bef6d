"""Write small real video clips for tests with PyAV: solid colours, rotation, truncation, audio.

The tiny test models read mean colours (tests/conftest.py), so a clip of one colour has a known
answer, and a clip whose frames change colour tests how frames are combined.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

Color = tuple[int, int, int]


def write_clip(
    path: Path,
    colors: Sequence[Color] | Color,
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (64, 48),
    fps: int = 12,
    codec: str = "libx264",
    pixel_format: str = "yuv420p",
    keyframe_every: int = 6,
    rotation: int | None = None,
    audio: bool = False,
    marker: bool = False,
    faststart: bool = False,
) -> Path:
    """Write a clip of ``seconds`` whose frames show ``colors`` in turn (equal spans).

    ``size`` is (width, height); ``rotation`` puts a display matrix on the stream, as phones
    do for a clip filmed upright; ``audio`` adds a silent AAC track; ``marker`` paints a white
    square in the top-left corner, so a test can tell how the frame was turned; ``faststart``
    puts an MP4's index (moov) first, as streaming services and some editors write it.
    """
    spans = [colors] if isinstance(colors[0], int) else list(colors)  # type: ignore[list-item]
    frames = max(1, round(seconds * fps))
    width, height = size
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = pixel_format
        stream.codec_context.gop_size = keyframe_every
        stream.codec_context.options = _quiet_options(codec)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=8000) if audio else None
        for index in range(frames):
            color = spans[min(index * len(spans) // frames, len(spans) - 1)]
            pixels = np.empty((height, width, 3), np.uint8)
            pixels[:] = color
            if marker:
                pixels[: height // 4, : width // 4] = 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if sound is not None:
            _silence(container, sound, seconds)
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """Write an M4A-like MP4 holding only a silent AAC track."""
    with av.open(str(path), "w", format="mp4") as container:
        _silence(container, container.add_stream("aac", rate=8000), seconds)
    return path


def _silence(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    samples = 1024
    for index in range(max(1, int(seconds * 8000 / samples))):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, samples), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        frame.pts = index * samples
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def _quiet_options(codec: str) -> dict[str, str]:
    if codec == "libx264":
        return {"preset": "ultrafast"}
    if codec == "libx265":
        return {"preset": "ultrafast", "x265-params": "log-level=error"}
    return {}
