"""The photos the benchmark runs on: the validation set in place, and generated folders.

Generated folders live in the system's temporary directory (never in the repository), one per
set of parameters, and are reused by later runs; a folder is only trusted once its ``.complete``
marker beside it exists, so an interrupted generation is redone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageOps

import catsort.decoding  # noqa: F401  (registers the HEIF plugin for saving)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from rawfile import write_dng  # the tests' DNG writer

#: A 12-megapixel phone photo, landscape.
BIG_SIZE = (4032, 3024)
BIG_QUALITY = 90
#: Standard deviation of the added noise, in 8-bit levels: camera-like file sizes (2-4 MB).
NOISE_SIGMA = 6.0
#: How many distinct small photos the flat-memory folders are linked from.
SMALL_SOURCES = 100
# Bump when the way a folder is made changes, so old caches are not reused.
VERSION = 2

#: The phone corpus, one folder per kind of file an iPhone's library holds.
PHONE_KINDS = ("heic", "heic-nothumb", "jpeg", "dng", "png", "live")
#: HEIC quality: 12 MP photos of 2-3 MB with this grain, as iPhones write them.
HEIC_QUALITY = 50
#: The thumbnail iPhones embed in each HEIC, and the grid tiles they store the image in.
HEIC_THUMBNAIL = 320
HEIC_TILE = 512
#: An iPhone screenshot (iPhone 12 to 14), portrait.
SCREENSHOT_SIZE = (1170, 2532)
#: EXIF orientation of the phone photos: taken upright, stored as the sensor saw them.
PHONE_ORIENTATION = 6

_EXTENSIONS = {".jpg", ".jpeg", ".png", ".heic", ".dng", ".webp", ".avif", ".tif", ".tiff"}


def cache_root() -> Path:
    """Where generated folders are kept between runs."""
    return Path(tempfile.gettempdir()) / "catsort-bench"


def image_files(folder: Path) -> list[Path]:
    """Every image under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in _EXTENSIONS and p.is_file())


def source_photos(validation: Path | None, samples: Path) -> tuple[list[Path], str]:
    """Real photos to build corpora from, cats and dogs alternating, and a tag naming them."""
    if validation is not None:
        cats = image_files(validation / "cats")
        dogs = image_files(validation / "dogs")
        if cats and dogs:
            return [p for pair in zip(cats, dogs) for p in pair], "val"
    photos = sorted(samples.glob("cat.*.jpg")) + sorted(samples.glob("dog.*.jpg"))
    if not photos:
        raise SystemExit(f"no source photos: neither {validation} nor {samples}/cat.*.jpg exist")
    return photos, "samples"


def big_photos(
    count: int, sources: list[Path], tag: str, say: Callable[[str], None] = print
) -> Path:
    """A folder of ``count`` 12 MP JPEGs upscaled from ``sources``, with sensor-like noise."""
    width, height = BIG_SIZE
    name = f"big-{count}-{width}x{height}-q{BIG_QUALITY}-noise{NOISE_SIGMA:g}-{tag}-v{VERSION}"

    def build(folder: Path) -> None:
        say(f"Generating {count} photos of {width}x{height} in {folder} (once; cached) ...")
        # One noise field a little larger than the photo; each photo takes a shifted crop.
        rng = np.random.default_rng(1234)
        field = rng.standard_normal((height + 64, width + 64, 3), dtype=np.float32)
        field = field * NOISE_SIGMA + 128.0
        noise = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")
        del field
        exif = Image.Exif()
        exif[0x010F] = "catsort-bench"  # Make
        exif[0x0110] = "synthetic 12MP"  # Model
        exif[0x0112] = 1  # Orientation: upright
        for index, source in enumerate(islice(cycle(sources), count)):
            with Image.open(source) as img:
                big = ImageOps.fit(img.convert("RGB"), BIG_SIZE, Image.Resampling.BICUBIC)
            dx, dy = (index * 7) % 64, (index * 13) % 64
            grain = noise.crop((dx, dy, dx + width, dy + height))
            photo = ImageChops.add(big, grain, 1.0, -128)
            photo.save(
                folder / f"IMG_{index:04d}.jpg", "JPEG", quality=BIG_QUALITY, exif=exif.tobytes()
            )

    return _cached(name, build)


def phone_photos(
    count: int, sources: list[Path], tag: str, say: Callable[[str], None] = print
) -> Path:
    """A phone's library: per kind in PHONE_KINDS, a folder of ``count`` files.

    heic: 12 MP HEIC as iPhones write them (grid of 512-pixel tiles, a 320-pixel thumbnail,
    turned by the HEIF rotation); heic-nothumb: the same without a thumbnail; jpeg: 12 MP JPEG
    with the EXIF orientation; dng: a RAW file with a 12 MP JPEG preview; png: screenshots;
    live: Live Photo pairs (the HEIC and a .MOV of the same name).
    """
    name = f"phone-{count}-q{HEIC_QUALITY}-{tag}-v{VERSION}"

    def build(root: Path) -> None:
        say(f"Generating a phone library of {count} files per kind in {root} (once; cached) ...")
        for kind in PHONE_KINDS:
            (root / kind).mkdir()
        noise = noise_field()
        exif = _phone_exif(PHONE_ORIENTATION)
        for index, source in enumerate(islice(cycle(sources), count)):
            stem = f"IMG_{index:04d}"
            upright = phone_photo(source, index, noise, portrait=True)
            stored = upright.transpose(Image.Transpose.ROTATE_90)  # the sensor's landscape view
            stored.save(
                root / "heic" / f"{stem}.HEIC",
                format="HEIF",
                quality=HEIC_QUALITY,
                thumbnails=[HEIC_THUMBNAIL],
                tile_size=HEIC_TILE,
                exif=exif,
            )
            stored.save(
                root / "heic-nothumb" / f"{stem}.HEIC",
                format="HEIF",
                quality=HEIC_QUALITY,
                tile_size=HEIC_TILE,
                exif=exif,
            )
            stored.save(root / "jpeg" / f"{stem}.JPG", "JPEG", quality=BIG_QUALITY, exif=exif)
            write_dng(root / "dng" / f"{stem}.DNG", stored, orientation=PHONE_ORIENTATION)
            _screenshot(upright).save(root / "png" / f"{stem}.PNG")
            os.link(root / "heic" / f"{stem}.HEIC", root / "live" / f"{stem}.HEIC")
            (root / "live" / f"{stem}.MOV").write_bytes(_QUICKTIME_STUB)

    return _cached(name, build)


def small_files(count: int, sources: list[Path], tag: str) -> Path:
    """A folder of ``count`` small photos: hard links to (or copies of) a hundred real ones."""
    originals = _cached(
        f"small-sources-{SMALL_SOURCES}-{tag}-v{VERSION}",
        lambda folder: _copy_sources(sources[:SMALL_SOURCES], folder),
    )
    photos = image_files(originals)

    def build(folder: Path) -> None:
        for index, source in enumerate(islice(cycle(photos), count)):
            target = folder / f"photo_{index:05d}{source.suffix}"
            try:
                os.link(source, target)
            except OSError:  # no hard links here: a copy decodes the same
                shutil.copyfile(source, target)

    return _cached(f"small-{count}-{tag}-v{VERSION}", build)


def read_all(folder: Path) -> int:
    """Read every image once so that the timed runs find them in the page cache; return bytes."""
    total = 0
    for path in image_files(folder):
        total += len(path.read_bytes())
    return total


# A QuickTime header: the video half of a Live Photo, never decoded (a companion of the HEIC).
_QUICKTIME_STUB = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 1000


def noise_field() -> Image.Image:
    """The grain added to generated 12 MP photos: a field a little larger than one."""
    width, height = BIG_SIZE
    side = max(width, height) + 64
    rng = np.random.default_rng(1234)
    field = rng.standard_normal((side, side, 3), dtype=np.float32) * NOISE_SIGMA + 128.0
    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")


def phone_photo(source: Path, index: int, noise: Image.Image, portrait: bool) -> Image.Image:
    """A 12 MP photo made from ``source``: upscaled, with a crop of ``noise`` as its grain."""
    size = (BIG_SIZE[1], BIG_SIZE[0]) if portrait else BIG_SIZE
    with Image.open(source) as img:
        big = ImageOps.fit(img.convert("RGB"), size, Image.Resampling.BICUBIC)
    dx, dy = (index * 7) % 64, (index * 13) % 64
    return ImageChops.add(big, noise.crop((dx, dy, dx + size[0], dy + size[1])), 1.0, -128)


def _phone_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "catsort-bench"  # Make
    exif[0x0110] = "synthetic phone"  # Model
    exif[0x0112] = orientation
    return exif.tobytes()


def _screenshot(photo: Image.Image) -> Image.Image:
    """A phone screenshot: a status bar, the photo in an app's frame, lines of text."""
    width = SCREENSHOT_SIZE[0]
    shot = Image.new("RGB", SCREENSHOT_SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, width, 140), fill=(242, 242, 247))
    shown = ImageOps.fit(photo, (width, width * 4 // 3), Image.Resampling.BICUBIC)
    shot.paste(shown, (0, 300))
    top = 300 + shown.height + 60
    for line in range(8):
        y = top + line * 70
        draw.rectangle((60, y, 60 + (line * 137) % 700 + 300, y + 36), fill=(60, 60, 67))
    return shot


def _copy_sources(sources: list[Path], folder: Path) -> None:
    for source in sources:
        shutil.copyfile(source, folder / source.name)


def _cached(name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` under the cache root, built by ``build`` unless already complete."""
    folder = cache_root() / name
    marker = cache_root() / f"{name}.complete"
    if marker.exists() and folder.is_dir():
        return folder
    if folder.exists():  # left by an interrupted run
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    build(folder)
    marker.touch()
    return folder
