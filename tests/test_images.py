"""The shared image loader: every format and pixel mode becomes upright RGB at the model size."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import damaged_exif_jpeg, png_bomb
from PIL import Image, ImageOps

from catsort.errors import CatsortError
from catsort.images import is_image_name, load_image, quiet_pillow_warnings, upright

SIZE = (16, 16)
RED = (230, 20, 20)


def _close(pixels: np.ndarray, color, tolerance=12) -> bool:
    return bool(np.all(np.abs(pixels.astype(int) - np.array(color)) <= tolerance))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("a.jpg", {"quality": 95}),
        ("a.png", {}),
        ("a.gif", {}),
        ("a.bmp", {}),
        ("a.tiff", {}),
        ("a.webp", {"quality": 95}),
        ("a.heic", {"quality": 95}),
    ],
)
def test_formats_load_as_rgb_at_model_size(tmp_path, name, args):
    path = tmp_path / name
    Image.new("RGB", (40, 30), RED).save(path, **args)
    pixels = load_image(path, SIZE)
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
    assert _close(pixels, RED), pixels[0, 0]


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide x 20 high, left half red and right half blue; orientation 6 means the
    # camera was turned, so the photo is shown rotated 90 degrees clockwise: red on top.
    img = Image.new("RGB", (40, 20), (20, 20, 230))
    img.paste(RED, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "turned.jpg"
    img.save(path, exif=exif, quality=95)
    pixels = load_image(path, (40, 20))
    assert _close(pixels[2:15, 5:15], RED, 30)
    assert _close(pixels[25:38, 5:15], (20, 20, 230), 30)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_every_orientation_gives_the_pixels_pillow_shows(tmp_path, orientation, suffix):
    # The model was trained on photos turned by Pillow's exif_transpose; upright() must match it.
    rng = np.random.default_rng(orientation)
    img = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}{suffix}"
    img.save(path, exif=exif)
    with Image.open(path) as expected:
        want = np.asarray(ImageOps.exif_transpose(expected))
    with Image.open(path) as opened:
        got = np.asarray(upright(opened))
    np.testing.assert_array_equal(got, want)
    assert got.shape[:2] == ((30, 20) if orientation >= 5 else (20, 30))


def _palette_image(color) -> Image.Image:
    img = Image.new("P", (20, 20), 1)
    img.putpalette([0, 0, 0, *color])
    return img


@pytest.mark.parametrize(
    ("mode", "make", "expected"),
    [
        ("L", lambda: Image.new("L", (20, 20), 128), (128, 128, 128)),
        ("LA transparent", lambda: Image.new("LA", (20, 20), (0, 0)), (255, 255, 255)),
        ("LA opaque", lambda: Image.new("LA", (20, 20), (60, 255)), (60, 60, 60)),
        ("P", lambda: _palette_image(RED), RED),
        ("RGBA half", lambda: Image.new("RGBA", (20, 20), (255, 0, 0, 128)), (255, 127, 127)),
        ("CMYK", lambda: Image.new("RGB", (20, 20), RED).convert("CMYK"), RED),
        ("I;16", lambda: Image.new("I;16", (20, 20), 32768), (128, 128, 128)),
    ],
)
def test_pixel_modes_become_correct_rgb(tmp_path, mode, make, expected):
    path = tmp_path / "img.tiff" if mode == "CMYK" else tmp_path / "img.png"
    make().save(path)
    pixels = load_image(path, SIZE)
    assert pixels.shape == (16, 16, 3)
    assert _close(pixels, expected, 3), (mode, pixels[0, 0])


def test_cmyk_jpeg_is_not_inverted(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("RGB", (40, 30), RED).convert("CMYK").save(path, quality=95)
    assert _close(load_image(path, SIZE), RED, 20)


def test_large_jpeg_decodes_in_draft_mode_to_the_same_picture(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1500), RED).save(path, quality=90)
    assert _close(load_image(path, SIZE), RED)


def _animated_gif(path: Path) -> None:
    frames = [Image.new("RGB", (20, 20), c) for c in (RED, (20, 20, 230))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _animated_png(path: Path) -> None:
    frames = [Image.new("RGB", (20, 20), c) for c in (RED, (20, 20, 230))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _truncated_jpeg(path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("empty.jpg", lambda p: p.write_bytes(b""), "empty file"),
        ("text.jpg", lambda p: p.write_text("hello, not a photo\n"), "not an image"),
        ("cut.jpg", _truncated_jpeg, "truncated image \\(the file ends early"),
        ("bomb.png", lambda p: p.write_bytes(png_bomb(30000, 30000)), "too large"),
        ("tiny.png", lambda p: Image.new("RGB", (1, 1)).save(p), "too small"),
        ("anim.png", _animated_png, "animated"),
        ("folder.jpg", lambda p: p.mkdir(), "is a folder"),
        ("gone.jpg", lambda p: None, "not found"),
        (
            "dangling.jpg",
            lambda p: p.symlink_to(p.parent / "nowhere.jpg"),
            "broken link .*nowhere.jpg does not exist",
        ),
        ("loop.jpg", lambda p: p.symlink_to(p), "symbolic link loop"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(CatsortError, match=reason) as info:
        load_image(path, SIZE)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_damaged_exif_is_ignored_without_a_warning(tmp_path):
    path = damaged_exif_jpeg(tmp_path / "odd_exif.jpg")  # the pixels are fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that reached the user fails the test
        quiet_pillow_warnings()  # as the command line does
        pixels = load_image(path, SIZE)
    assert pixels.shape == (*SIZE, 3)


def test_unreadable_file_is_permission_denied(tmp_path):
    path = tmp_path / "secret.jpg"
    Image.new("RGB", (20, 20), RED).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: the file stays readable")
        with pytest.raises(CatsortError, match="permission denied"):
            load_image(path, SIZE)
    finally:
        path.chmod(0o644)


def test_permission_error_names_the_file(tmp_path, monkeypatch):
    # The same as above where the tests run as root (who may read anything).
    path = tmp_path / "secret.jpg"

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(CatsortError, match=r"secret\.jpg: permission denied$"):
        load_image(path, SIZE)


def test_image_names():
    assert is_image_name("IMG_0001.JPG") and is_image_name("x.heic")
    assert not is_image_name("notes.txt") and not is_image_name("jpg")


def test_an_animated_gif_is_read_as_its_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    _animated_gif(path)
    assert _close(load_image(path, SIZE), RED)


def test_an_image_too_small_to_tell_is_skipped_not_failed(tmp_path):
    from catsort.images import ImageSkipped

    path = tmp_path / "dot.png"
    Image.new("RGB", (3, 2)).save(path)
    with pytest.raises(ImageSkipped, match=r"too small to tell \(3x2 pixels\)"):
        load_image(path, SIZE)
