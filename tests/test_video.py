"""Reading videos: which frames are looked at, turned how, and a clear error for bad clips."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import BLUE, GREEN, GREY, RED
from videofile import write_audio_only, write_clip

from catsort.errors import CatsortError
from catsort.video import FRAMES, is_video_name, load_frames, load_still

SIZE = (16, 16)


def colour(frame: np.ndarray) -> tuple[int, int, int]:
    """A frame's mean colour, rounded to tens (video coding shifts colours a little)."""
    mean = frame.reshape(-1, 3).mean(axis=0)
    return tuple(int(round(value, -1)) for value in mean)  # type: ignore[return-value]


def near(frame: np.ndarray, expected: tuple[int, int, int]) -> bool:
    return bool(np.abs(frame.reshape(-1, 3).mean(axis=0) - np.array(expected)).max() < 20)


@pytest.mark.parametrize("name", ["a.mp4", "B.MOV", "c.m4v", "d.3gp", "e.avi", "f.mkv", "g.WebM"])
def test_video_names_in_any_case(name: str) -> None:
    assert is_video_name(name)


@pytest.mark.parametrize("name", ["a.jpg", "a.heic", "a.mp3", "a.m4a", "mp4"])
def test_other_names_are_not_videos(name: str) -> None:
    assert not is_video_name(name)


def test_frames_are_spread_over_the_clip(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", [RED, BLUE, GREEN], seconds=3)
    frames = load_frames(clip, SIZE)
    assert len(frames) == FRAMES == 3
    assert all(frame.shape == (*SIZE, 3) and frame.dtype == np.uint8 for frame in frames)
    assert [near(f, c) for f, c in zip(frames, [RED, BLUE, GREEN])] == [True, True, True]


def test_a_clip_larger_than_1080p_gives_fewer_frames(tmp_path: Path, monkeypatch) -> None:
    import catsort.video

    assert catsort.video.PIXEL_BUDGET >= FRAMES * 1920 * 1080  # 1080p: every frame
    clip = write_clip(tmp_path / "clip.mp4", [RED, BLUE, GREEN], seconds=3, size=(64, 48))
    monkeypatch.setattr(catsort.video, "PIXEL_BUDGET", 64 * 48 * 2)  # as if 4K: fewer
    assert len(load_frames(clip, SIZE)) == 2
    monkeypatch.setattr(catsort.video, "PIXEL_BUDGET", 64 * 48 - 1)
    (frame,) = load_frames(clip, SIZE)
    assert near(frame, BLUE)  # the middle one


def test_a_clip_with_one_keyframe_gives_that_frame_once(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", RED, seconds=3, keyframe_every=1000)
    frames = load_frames(clip, SIZE)
    assert len(frames) == 1 and near(frames[0], RED)


@pytest.mark.parametrize(
    ("rotation", "corner"),
    # The marker is painted top-left of the stored picture; the display matrix turns it
    # counter-clockwise by the angle, as players show the clip.
    [(None, "top-left"), (90, "bottom-left"), (-90, "top-right"), (180, "bottom-right")],
)
def test_a_phone_clip_is_turned_as_players_show_it(
    tmp_path: Path, rotation: int | None, corner: str
) -> None:
    clip = write_clip(
        tmp_path / "clip.mov", (0, 0, 0), size=(64, 32), rotation=rotation, marker=True
    )
    frame = load_frames(clip, (32, 32))[0]
    corners = {
        "top-left": frame[:4, :4],
        "top-right": frame[:4, -4:],
        "bottom-left": frame[-4:, :4],
        "bottom-right": frame[-4:, -4:],
    }
    bright = [name for name, pixels in corners.items() if pixels.mean() > 200]
    assert bright == [corner]


@pytest.mark.parametrize(
    ("name", "codec", "pixel_format"),
    [
        ("hdr.mov", "libx265", "yuv420p10le"),  # 10-bit HEVC, as phones film HDR
        ("clip.webm", "libvpx-vp9", "yuv420p"),
        ("old.avi", "mpeg4", "yuv420p"),
        ("clip.mkv", "libx264", "yuv420p"),
    ],
)
def test_common_codecs_and_containers_are_read(
    tmp_path: Path, name: str, codec: str, pixel_format: str
) -> None:
    clip = write_clip(tmp_path / name, BLUE, codec=codec, pixel_format=pixel_format)
    frames = load_frames(clip, SIZE)
    assert frames and all(near(frame, BLUE) for frame in frames)


def test_a_clip_with_sound_is_read_from_its_picture(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", GREY, audio=True)
    assert all(near(frame, GREY) for frame in load_frames(clip, SIZE))


def _truncated(tmp_path: Path) -> Path:
    whole = write_clip(tmp_path / "whole.mp4", RED, seconds=3).read_bytes()
    path = tmp_path / "upload.mp4"
    path.write_bytes(whole[: len(whole) // 2])  # the index (moov) comes last: it is gone
    return path


def _cut_after_its_index(tmp_path: Path) -> Path:
    clip = write_clip(tmp_path / "whole.mp4", [RED, BLUE, GREEN], seconds=3, faststart=True)
    whole = clip.read_bytes()
    assert whole.find(b"moov") < whole.find(b"mdat")  # the index first: the clip opens
    path = tmp_path / "upload.mp4"
    path.write_bytes(whole[: len(whole) * 4 // 5])  # the last frames' data is missing
    return path


def _written(name: str, data: bytes):  # type: ignore[no-untyped-def]
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return make


def _unknown_codec(tmp_path: Path) -> Path:
    clip = write_clip(tmp_path / "whole.avi", RED, codec="mpeg4")
    path = tmp_path / "odd.avi"
    path.write_bytes(clip.read_bytes().replace(b"FMP4", b"ZQZQ"))  # a FourCC nobody knows
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_written("empty.mp4", b""), "empty file"),
        (_truncated, "not a video catsort can read (damaged, or an unfinished copy or upload?)"),
        (
            _cut_after_its_index,
            "truncated video (the file ends early: an unfinished copy or upload?)",
        ),
        (lambda d: write_audio_only(d / "voice.mp4"), "no video in it (audio only?)"),
        (_unknown_codec, "video in a format catsort cannot decode"),
        (
            _written("notes.mov", b"not a clip"),
            "not a video catsort can read (damaged, or an unfinished copy or upload?)",
        ),
        (lambda d: d / "gone.mp4", "file not found (moved or deleted?)"),
    ],
    ids=[
        "empty",
        "truncated",
        "cut-short",
        "audio-only",
        "unknown-codec",
        "not-a-video",
        "missing",
    ],
)
def test_a_bad_clip_is_one_clear_error(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(CatsortError) as caught:
        load_frames(path, SIZE)
    assert str(caught.value) == f"{path}: {reason}"


def test_a_broken_link_names_what_is_missing(tmp_path: Path) -> None:
    link = tmp_path / "clip.mp4"
    os.symlink(tmp_path / "elsewhere.mp4", link)
    with pytest.raises(CatsortError, match=r"broken link .*elsewhere\.mp4 does not exist"):
        load_frames(link, SIZE)


def test_a_folder_named_like_a_video_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "trip.mp4"
    folder.mkdir()
    with pytest.raises(CatsortError, match=r"trip\.mp4: is a folder, not a video"):
        load_frames(folder, SIZE)


def test_a_still_is_the_middle_keyframe_upright_and_scaled_down(tmp_path: Path) -> None:
    clip = write_clip(
        tmp_path / "clip.mov", [RED, BLUE, GREEN], seconds=3, size=(640, 320), rotation=90
    )
    still = load_still(clip, 160)
    assert still.mode == "RGB" and still.size == (160, 320)  # halved, turned upright
    assert near(np.asarray(still), BLUE)


def test_a_clip_whose_title_is_not_utf8_is_read(tmp_path: Path) -> None:
    import av

    clip = write_clip(tmp_path / "clip.mov", RED)
    titled = tmp_path / "titled.mov"
    with av.open(str(clip)) as source, av.open(str(titled), "w") as target:
        target.metadata["title"] = "ZZTITLEZZ"
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    data = titled.read_bytes()
    assert data.count(b"ZZTITLEZZ") == 1
    titled.write_bytes(data.replace(b"ZZTITLEZZ", b"\xff\xfe\xfa\xfbTITLE"))  # Latin-1 bytes
    assert all(near(frame, RED) for frame in load_frames(titled, SIZE))
