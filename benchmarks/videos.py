"""The clips the video benchmark runs on, written with PyAV and kept in the temporary directory.

Two kinds: phone-like clips for timing (a real photo upscaled to the frame and panned over, with
sensor-like noise that changes every frame, so an encoder spends a phone's bitrate on it), and
small pan-and-zoom clips made from one photo each, for what the model makes of a clip against
the photo itself. Folders are cached as benchmarks/corpora.py caches photos.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import corpora
import numpy as np
from PIL import Image, ImageOps

# Bump when the way a clip is made changes, so old caches are not reused.
VERSION = 1


@dataclass(frozen=True)
class PhoneClip:
    """How a phone films: size (width, height), length, rate, codec, pixel format, bitrate."""

    name: str
    size: tuple[int, int]
    seconds: float
    fps: int
    codec: str
    pixel_format: str
    bitrate: int  # bits per second
    suffix: str
    preset: str

    @property
    def tag(self) -> str:
        """The clip's parameters in a folder name."""
        width, height = self.size
        return (
            f"{self.name}-{width}x{height}-{self.seconds:g}s-{self.fps}fps-{self.codec}-"
            f"{self.pixel_format}-{self.bitrate // 1_000_000}M-{self.preset}-v{VERSION}"
        )


#: A phone's 1080p H.264 clip (about 17 Mbit/s at 30 frames a second, a keyframe a second).
H264_1080P = PhoneClip(
    "h264", (1920, 1080), 10, 30, "libx264", "yuv420p", 17_000_000, ".mp4", "veryfast"
)
#: A phone's 4K HDR clip: 10-bit HEVC at 45 Mbit/s. Short, since x265 is slow here and only
#: three keyframes are read whatever the length.
HEVC_4K = PhoneClip(
    "hevc", (3840, 2160), 3, 30, "libx265", "yuv420p10le", 45_000_000, ".mov", "ultrafast"
)
#: A long clip, for memory: two minutes of 1080p H.264.
LONG_1080P = PhoneClip(
    "long", (1920, 1080), 120, 30, "libx264", "yuv420p", 17_000_000, ".mp4", "ultrafast"
)


def phone_clips(
    clip: PhoneClip, count: int, source: Path, say: Callable[[str], None] = print
) -> Path:
    """A folder of ``count`` copies (hard links) of one phone-like clip panning over ``source``."""

    def build(folder: Path) -> None:
        say(f"Generating a {clip.tag} clip in {folder} (once; cached) ...")
        first = folder / f"VID_0000{clip.suffix}"
        write_phone_clip(first, clip, source)
        for index in range(1, count):
            link(first, folder / f"VID_{index:04d}{clip.suffix}")

    return corpora._cached(f"video-{clip.tag}-{count}", build)


def write_phone_clip(path: Path, clip: PhoneClip, source: Path) -> None:
    """Encode ``clip``: ``source`` upscaled a little past the frame, panned over, with noise."""
    width, height = clip.size
    with Image.open(source) as img:
        big = ImageOps.fit(img.convert("RGB"), (width * 23 // 20, height * 23 // 20))
    pixels = np.asarray(big).astype(np.int16)
    rng = np.random.default_rng(7)
    noise = np.clip(rng.standard_normal((height + 64, width + 64, 3)) * 6.0, -40, 40)
    grain = noise.astype(np.int16)
    frames = round(clip.seconds * clip.fps)
    options = {"preset": clip.preset}
    if clip.codec == "libx265":
        options["x265-params"] = "log-level=error"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(clip.codec, rate=clip.fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = clip.pixel_format
        stream.codec_context.gop_size = clip.fps  # a keyframe a second, as phones write
        stream.codec_context.bit_rate = clip.bitrate
        stream.codec_context.options = options
        for index in range(frames):
            dx = (pixels.shape[1] - width) * index // frames
            dy = (pixels.shape[0] - height) * index // frames
            nx, ny = (index * 7) % 64, (index * 13) % 64
            frame = (
                pixels[dy : dy + height, dx : dx + width] + grain[ny : ny + height, nx : nx + width]
            )
            picture = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), "rgb24")
            picture.pts, picture.time_base = index, Fraction(1, clip.fps)
            container.mux(stream.encode(picture))
        container.mux(stream.encode())


#: The pan-and-zoom clips: long side, length, frame rate (as a Live Photo), keyframe a second.
PAN_SIDE = 320
PAN_SECONDS = 3
PAN_FPS = 12
PAN_ZOOM = 0.35  # the last frame shows 1 / 1.35 of the photo's width and height


def pan_clips(photos: Sequence[Path], name: str, say: Callable[[str], None] = print) -> Path:
    """A folder of pan-and-zoom clips, one per photo, named after it (``cat_000.jpg.mp4``)."""

    def build(folder: Path) -> None:
        say(f"Generating {len(photos)} pan-and-zoom clips in {folder} (once; cached) ...")
        for index, photo in enumerate(photos):
            target = folder / photo.parent.name / f"{photo.name}.mp4"
            target.parent.mkdir(exist_ok=True)
            write_pan_clip(target, photo, random.Random(f"{photo.parent.name}/{photo.name}"))
            if (index + 1) % 100 == 0:
                say(f"  {index + 1} of {len(photos)}")

    return corpora._cached(f"video-pan-{name}-{len(photos)}-v{VERSION}", build)


def write_pan_clip(path: Path, photo: Path, rng: random.Random) -> None:
    """A few seconds of a camera moving over ``photo``: from the whole photo, zooming in
    towards a random point, as a phone follows a pet."""
    with Image.open(photo) as img:
        picture = ImageOps.exif_transpose(img).convert("RGB")
    scale = PAN_SIDE / max(picture.size)
    width = max(16, round(picture.width * scale) // 2 * 2)
    height = max(16, round(picture.height * scale) // 2 * 2)
    # Where the zoom ends, as a share of the photo's width and height.
    end_x, end_y = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
    frames = PAN_SECONDS * PAN_FPS
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=PAN_FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = PAN_FPS
        stream.codec_context.options = {"preset": "veryfast", "crf": "20"}
        for index in range(frames):
            t = index / (frames - 1)
            view_w = picture.width / (1 + PAN_ZOOM * t)
            view_h = picture.height / (1 + PAN_ZOOM * t)
            centre_x = picture.width * (0.5 + (end_x - 0.5) * t)
            centre_y = picture.height * (0.5 + (end_y - 0.5) * t)
            left = min(max(centre_x - view_w / 2, 0), picture.width - view_w)
            top = min(max(centre_y - view_h / 2, 0), picture.height - view_h)
            box = (left, top, left + view_w, top + view_h)
            shot = picture.resize((width, height), Image.Resampling.BILINEAR, box=box)
            frame = av.VideoFrame.from_image(shot)
            frame.pts, frame.time_base = index, Fraction(1, PAN_FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def stills(photos: Sequence[Path], name: str) -> Path:
    """The photos themselves in a folder laid out as ``pan_clips`` lays out their clips."""

    def build(folder: Path) -> None:
        for photo in photos:
            target = folder / photo.parent.name / photo.name
            target.parent.mkdir(exist_ok=True)
            link(photo, target)

    return corpora._cached(f"video-stills-{name}-{len(photos)}-v{VERSION}", build)


def link(source: Path, target: Path) -> None:
    """A hard link to ``source`` at ``target`` (a copy where links cannot be made)."""
    try:
        os.link(source, target)
    except OSError:  # no hard links here (another file system): a copy reads the same
        shutil.copyfile(source, target)
