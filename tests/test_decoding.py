"""Each format decoded the cheapest correct way: HEIC from its thumbnail where that is safe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from heicfile import (
    alpha_to_depth,
    cut,
    heic_writer_missing,
    heif_enc,
    libheif_available,
    without_primary,
    write_heic,
    write_heic_with_thumbnail,
)
from PIL import Image
from rawfile import write_dng

from catsort.decision import decide
from catsort.decoding import letterboxed, open_image, reduce_decoding, resize
from catsort.errors import CatsortError
from catsort.images import load_image, prepare, upright
from catsort.model import Classifier, load_model
from catsort.raw import open_preview

SIZE = (224, 224)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
needs_heic = pytest.mark.skipif(
    heic_writer_missing() is not None, reason=f"cannot write HEIC: {heic_writer_missing()}"
)
needs_libheif = pytest.mark.skipif(
    libheif_available() is not None, reason=f"libheif cannot be called: {libheif_available()}"
)


@pytest.fixture(scope="module")
def model() -> Classifier:
    """The shipped model: labels are checked on real photos."""
    return load_model()


def photo(name: str = "cat.2043.jpg", size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A sample photo (a cat or a dog) at a size a thumbnail of 320 pixels is smaller than."""
    with Image.open(SAMPLES / name) as img:
        return img.convert("RGB").resize(size, Image.Resampling.BICUBIC)


def decoded_size(path: Path) -> tuple[int, int]:
    """The size the file decodes at for the model: the thumbnail's when the fast path is taken."""
    with open_image(path, SIZE) as img:
        img.load()
        return img.size


def full_decode(path: Path) -> np.ndarray:
    """What the model sees from the image itself: no thumbnail, no reduced decoding."""
    with Image.open(path) as img:
        return prepare(img, path, SIZE)


def label(model: Classifier, pixels: np.ndarray) -> tuple[str, float]:
    """The label catsort gives these pixels, and the probability of a dog."""
    out = model.predict(pixels[np.newaxis])
    pet = None if out.pet_score is None else float(out.pet_score[0])
    prediction = decide(out.logits[0], pet, model.metadata)
    return prediction.label, prediction.probabilities["dog"]


def assert_same_label(model: Classifier, path: Path, expected: str) -> None:
    """The photo gets the expected label through load_image and from the full decode alike."""
    fast, fast_dog = label(model, load_image(path, SIZE))
    full, full_dog = label(model, full_decode(path))
    assert fast == full == expected, (fast, full)
    assert abs(fast_dog - full_dog) < 0.1, (fast_dog, full_dog)


# --- the fast path: a thumbnail that is a scaled copy -------------------------------------------


@needs_heic
@pytest.mark.parametrize("name", ["cat.2043.jpg", "dog.2082.jpg"])
def test_a_heic_with_a_thumbnail_is_read_from_it_with_the_same_label(tmp_path, model, name):
    path = write_heic(tmp_path / "IMG_0001.HEIC", photo(name), thumbnail=320)
    assert decoded_size(path) == (320, 240)
    assert_same_label(model, path, name.split(".")[0])


def test_a_heic_from_heif_enc_is_read_from_its_thumbnail(tmp_path, model):
    path = heif_enc(tmp_path / "IMG_0002.HEIC", photo("dog.2114.jpg"), thumbnail=320)
    if path is None:
        pytest.skip("heif-enc not installed (Debian: apt-get install libheif-examples)")
    assert decoded_size(path) == (320, 240)
    assert_same_label(model, path, "dog")


@needs_heic
@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_turned_heic_is_upright_from_its_thumbnail_as_from_the_image(tmp_path, orientation):
    # Left half red, right half blue, so any wrong turn or mirror shows.
    image = Image.new("RGB", (640, 480), (220, 30, 30))
    image.paste((30, 30, 220), (320, 0, 640, 480))
    path = write_heic(tmp_path / "turned.heic", image, orientation=orientation)
    turned = orientation >= 5
    assert decoded_size(path) == ((240, 320) if turned else (320, 240))
    expected = np.asarray(resize(upright(image.copy(), orientation), SIZE))  # as for a JPEG
    for pixels in (load_image(path, SIZE), full_decode(path)):
        assert np.abs(pixels.astype(int) - expected).mean() < 6


@needs_heic
def test_a_grid_heic_as_phones_write_it_is_read_from_its_thumbnail(tmp_path, model):
    path = write_heic(tmp_path / "grid.heic", photo("dog.2082.jpg"), tile_size=256)
    assert decoded_size(path) == (320, 240)
    assert_same_label(model, path, "dog")


# --- the image itself where the thumbnail will not do -------------------------------------------


@needs_heic
def test_a_heic_without_a_thumbnail_is_read_in_full(tmp_path, model):
    path = write_heic(tmp_path / "plain.heic", photo(), thumbnail=None)
    assert decoded_size(path) == (640, 480)
    assert np.array_equal(load_image(path, SIZE), full_decode(path))


@needs_heic
def test_a_thumbnail_smaller_than_the_model_input_is_not_used(tmp_path):
    path = write_heic(tmp_path / "small.heic", photo(), thumbnail=160)
    assert decoded_size(path) == (640, 480)


@needs_libheif
def test_a_letterboxed_thumbnail_is_refused_for_the_image(tmp_path, model):
    # The thumbnail has the image's aspect ratio, but its picture is squeezed between black
    # bars, as some cameras' are: the check of its edges sends the reader to the image.
    image = photo("dog.2082.jpg")
    bars = Image.new("RGB", (640, 480))
    bars.paste(image.resize((640, 400)), (0, 40))
    path = write_heic_with_thumbnail(tmp_path / "bars.heic", image, bars)
    with Image.open(path) as img:
        assert img.draft("RGB", SIZE) is not None, "pillow-heif itself would take it"
    assert decoded_size(path) == (640, 480)
    assert np.array_equal(load_image(path, SIZE), full_decode(path))
    assert_same_label(model, path, "dog")


@needs_libheif
def test_a_thumbnail_of_another_aspect_ratio_is_not_used(tmp_path):
    image = photo()
    path = write_heic_with_thumbnail(tmp_path / "square.heic", image, image.resize((640, 640)))
    assert decoded_size(path) == (640, 480)
    assert np.array_equal(load_image(path, SIZE), full_decode(path))


@needs_libheif
def test_a_thumbnail_turned_otherwise_than_its_image_is_not_used(tmp_path):
    image = photo()
    # The image carries a rotation (irot), the thumbnail, made of the same pixels, none.
    path = write_heic_with_thumbnail(tmp_path / "rot.heic", image, image, orientation=6)
    assert decoded_size(path) == (480, 640)  # the image, turned
    assert np.array_equal(load_image(path, SIZE), full_decode(path))


@needs_heic
def test_a_broken_thumbnail_is_skipped_for_the_image(tmp_path):
    path = write_heic(tmp_path / "broken.heic", photo(), thumbnail=320)
    intact = full_decode(path)
    cut(path, -200)  # libheif writes the thumbnail last: its data now ends past the file
    assert decoded_size(path) == (640, 480)
    assert np.array_equal(load_image(path, SIZE), intact)


# --- damaged and unusual HEIF files --------------------------------------------------------------


def _hdr(path: Path) -> None:
    import pillow_heif

    pixels = np.asarray(photo(), dtype=np.uint16) * 257
    pillow_heif.from_bytes(mode="RGB;16", size=(640, 480), data=pixels.tobytes()).save(path)


def _depth(path: Path) -> None:
    rgba = photo("dog.2082.jpg").convert("RGBA")
    rgba.putalpha(255)
    write_heic(path, rgba)
    alpha_to_depth(path)


@needs_heic
@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("hdr10.heic", _hdr, "cat"),  # 10 bits a channel
        ("depth.heic", _depth, "dog"),  # with a depth map
        ("alpha.heic", lambda p: write_heic(p, photo().convert("RGBA")), "cat"),  # auxiliary
    ],
)
def test_unusual_heif_files_are_classified(tmp_path, model, name, make, expected):
    path = tmp_path / name
    make(path)
    assert_same_label(model, path, expected)


@needs_heic
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: cut(p, p.stat().st_size // 2), "truncated image \\(the file ends early"),
        (lambda p: cut(p, 300), "truncated image \\(the file ends early"),
        (without_primary, "damaged HEIF image \\(.*'pitm' box references"),
    ],
    ids=["cut in its image", "cut in its header", "no primary image"],
)
def test_damaged_heif_files_give_one_line_errors(tmp_path, make, reason):
    path = write_heic(tmp_path / "bad.heic", photo(), thumbnail=None)
    make(path)
    with pytest.raises(CatsortError, match=reason) as info:
        load_image(path, SIZE)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


# --- other formats ------------------------------------------------------------------------------


@needs_heic
@pytest.mark.parametrize("threads", [1, 2])
def test_heif_and_avif_decoders_get_a_workers_share_of_the_cores(tmp_path, monkeypatch, threads):
    # classify runs a worker a core; each decoder gets the worker's model threads, so that
    # libheif's and libavif's own threads (4, or every core, by default) do not fight them.
    import pillow_heif
    from PIL import AvifImagePlugin

    from catsort.pipeline import classify_paths

    # Put the settings back afterwards: they are the process's.
    monkeypatch.setattr(pillow_heif.options, "DECODE_THREADS", pillow_heif.options.DECODE_THREADS)
    monkeypatch.setattr(AvifImagePlugin, "DEFAULT_MAX_THREADS", AvifImagePlugin.DEFAULT_MAX_THREADS)
    path = write_heic(tmp_path / "IMG_0001.HEIC", photo(), thumbnail=None)
    model = load_model(threads=threads)
    results = list(classify_paths([path], model, workers=1))
    assert results[0].ok
    heif, avif = pillow_heif.options.DECODE_THREADS, AvifImagePlugin.DEFAULT_MAX_THREADS
    assert heif == avif == threads


@pytest.mark.parametrize("name", ["cat.2043.jpg", "dog.2082.jpg"])
def test_an_avif_gets_its_jpegs_label(tmp_path, model, name):
    image = photo(name, (1600, 1200))
    jpeg, avif = tmp_path / "a.jpg", tmp_path / "a.avif"
    image.save(jpeg, quality=90)
    image.save(avif, quality=80)
    with Image.open(avif) as img:
        assert img.format == "AVIF"
    assert label(model, load_image(avif, SIZE))[0] == label(model, load_image(jpeg, SIZE))[0]
    assert label(model, load_image(avif, SIZE))[0] == name.split(".")[0]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_turned_avif_is_upright_as_a_jpeg_would_be(tmp_path, orientation):
    image = Image.new("RGB", (640, 480), (220, 30, 30))
    image.paste((30, 30, 220), (320, 0, 640, 480))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Pillow writes it as the AVIF's rotation and mirroring
    path = tmp_path / "turned.avif"
    image.save(path, exif=exif.tobytes(), quality=90)
    expected = np.asarray(resize(upright(image.copy(), orientation), SIZE))
    assert np.abs(load_image(path, SIZE).astype(int) - expected).mean() < 6


def test_a_raw_files_large_preview_is_decoded_at_reduced_size(tmp_path):
    image = photo("dog.2082.jpg", (1600, 1200))
    path = write_dng(tmp_path / "IMG_0003.DNG", image)
    preview, _ = open_preview(path)
    with preview as img:
        assert reduce_decoding(img, SIZE) == "scaled"
        assert img.size == (400, 300)  # 1/4 scale: still covers 224x224
    preview, _ = open_preview(path)
    with preview as img:
        in_full = prepare(img, path, SIZE)  # no reduced decoding
    assert np.abs(load_image(path, SIZE).astype(int) - in_full).mean() < 2


def test_a_tiff_pyramid_is_read_from_its_reduced_page(tmp_path):
    big = photo(size=(1600, 1200))
    small = big.resize((400, 300), Image.Resampling.BOX)
    small.encoderinfo = {"tiffinfo": {254: 1}}  # NewSubfileType: reduced resolution
    path = tmp_path / "pyramid.tif"
    big.save(path, save_all=True, append_images=[small])
    assert decoded_size(path) == (400, 300)
    assert np.abs(load_image(path, SIZE).astype(int) - full_decode(path)).mean() < 2


def test_a_multi_page_tiff_is_read_from_its_first_page(tmp_path):
    pages = [Image.new("RGB", (400, 300), color) for color in ((220, 30, 30), (30, 30, 220))]
    path = tmp_path / "scan.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert decoded_size(path) == (400, 300)
    assert np.abs(load_image(path, SIZE).astype(int) - (220, 30, 30)).max() <= 2


def test_small_photos_resize_exactly_as_before_and_large_ones_within_two_levels():
    for size, most in (((500, 375), 0), ((4032, 3024), 2)):
        img = photo(size=size)
        plain = np.asarray(img.resize((224, 224), Image.Resampling.BILINEAR), dtype=int)
        difference = np.abs(np.asarray(resize(img, SIZE), dtype=int) - plain)
        assert difference.max() <= most and difference.mean() < 0.25


def test_black_edges_mark_a_letterbox_and_a_photo_has_none():
    image = photo()
    assert not letterboxed(image)
    for box in ((0, 0, 640, 3), (0, 477, 640, 480), (0, 0, 2, 480), (637, 0, 640, 480)):
        barred = image.copy()
        barred.paste((0, 0, 0), box)
        assert letterboxed(barred), box
