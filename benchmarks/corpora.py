"""The photos the benchmark runs on: the validation set in place, and generated folders.

Generated folders live in the system's temporary directory (never in the repository), one per
set of parameters, and are reused by later runs; a folder is only trusted once its ``.complete``
marker beside it exists, so an interrupted generation is redone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageOps

#: A 12-megapixel phone photo, landscape.
BIG_SIZE = (4032, 3024)
BIG_QUALITY = 90
#: Standard deviation of the added noise, in 8-bit levels: camera-like file sizes (2-4 MB).
NOISE_SIGMA = 6.0
#: How many distinct small photos the flat-memory folders are linked from.
SMALL_SOURCES = 100
# Bump when the way a folder is made changes, so old caches are not reused.
VERSION = 2

_EXTENSIONS = {".jpg", ".jpeg", ".png"}


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
