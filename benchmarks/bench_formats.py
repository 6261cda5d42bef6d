"""What decoding one photo costs, per format and size: catsort's path against a full decode.

    python benchmarks/bench_formats.py                    # 10 files per format, 3 repeats
    python benchmarks/bench_formats.py --count 3 --repeats 3
    python benchmarks/bench_formats.py --markdown docs/performance.md

In one process, on one thread, with the files in the page cache: CPU milliseconds per photo for
``catsort.images.load_image`` (what classify and training run: each format decoded the cheapest
way that covers the model's input, catsort.decoding) and for the full decode it replaced (the
whole image decoded, turned upright, made RGB and filtered down; JPEGs and RAW previews were
already drafted). Medians over the repeats; each repeat times every file of a row once, the two
paths in turn. No TensorFlow needed.

The files: the phone library of bench_classify.py (corpora.phone_photos: 12 MP HEIC with and
without a thumbnail, 12 MP JPEG, DNG, screenshots) and a folder of the other formats made from
the same photos (corpora.cache_root(); made once, then reused).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import corpora
import numpy as np
from measure import cpu_busy, machine_facts, median
from PIL import Image
from tables import Check, markdown_table, write_markdown

from catsort.decoding import open_image
from catsort.images import load_image, to_rgb, upright
from catsort.raw import is_raw_name, open_preview

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VALIDATION = REPO.parent / "shared" / "data" / "cats_and_dogs_filtered" / "validation"
SIZE = (224, 224)
MARKER = "bench-formats"
#: Issue 27: a HEIC with a thumbnail costs at most this many times a 12 MP JPEG.
HEIC_VS_JPEG = 1.5
FORMAT_FOLDERS = (
    "small-jpeg",
    "small-png",
    "small-webp",
    "small-heic",
    "png",
    "webp",
    "avif",
    "tiff",
    "tiff-pyramid",
    "tiff-pages",
)


def main() -> int:
    """Make the files if needed, time both paths per row, print the table and the checks."""
    args = parse_args()
    sources, tag = corpora.source_photos(
        args.validation if args.validation.is_dir() else None, REPO / "samples"
    )
    busy = cpu_busy()
    phone = corpora.phone_photos(args.count, sources, tag)
    others = other_formats(args.count, sources, tag)
    rows = [
        ("JPEG", "small (validation)", others / "small-jpeg"),
        ("PNG", "small", others / "small-png"),
        ("WebP", "small", others / "small-webp"),
        ("HEIC, 320-px thumbnail", "small", others / "small-heic"),
        ("JPEG", "12 MP", phone / "jpeg"),
        ("HEIC, 320-px thumbnail", "12 MP", phone / "heic"),
        ("HEIC, no thumbnail", "12 MP", phone / "heic-nothumb"),
        ("DNG, JPEG preview", "12 MP", phone / "dng"),
        ("PNG screenshot", "1170x2532", phone / "png"),
        ("PNG", "12 MP", others / "png"),
        ("WebP", "12 MP", others / "webp"),
        ("AVIF", "12 MP", others / "avif"),
        ("TIFF (LZW)", "12 MP", others / "tiff"),
        ("TIFF pyramid", "12 MP", others / "tiff-pyramid"),
        ("TIFF, two pages", "12 MP", others / "tiff-pages"),
    ]
    table = [["Format", "Size", "File", "Decoded at", "catsort", "Full decode", "Saved"]]
    per_photo: dict[str, float] = {}
    full_decodes: dict[str, float] = {}
    for name, size, folder in rows:
        files = corpora.image_files(folder)
        if not files:
            continue
        corpora.read_all(folder)
        ours, full = time_paths(files, args.repeats)
        per_photo[f"{name} {size}"] = ours
        full_decodes[f"{name} {size}"] = full
        megabytes = sum(p.stat().st_size for p in files) / len(files) / 1e6
        table.append(
            [
                name,
                size,
                f"{megabytes:.2f} MB" if megabytes >= 0.1 else f"{megabytes * 1000:.0f} kB",
                decoded_at(files[0]),
                f"{ours:.1f} ms",
                f"{full:.1f} ms",
                f"{full / ours:.1f}x",
            ]
        )
        print(f"  {name}, {size}: {ours:.1f} ms (full decode {full:.1f} ms)")
    checks = make_checks(per_photo, full_decodes)
    conditions = (
        f"started {time.strftime('%Y-%m-%d %H:%M %Z')}; CPU in use by others at start "
        f"{_percent(busy)}, at end {_percent(cpu_busy())}; {args.count} files per row, "
        f"{args.repeats} repeats; model input {SIZE[0]}x{SIZE[1]}"
    )
    text = "\n".join(
        [
            "**Machine:** " + "; ".join(f"{k} {v}" for k, v in machine_facts().items()),
            "",
            f"**Run:** {conditions}",
            "",
            *markdown_table(table, right=range(2, 7)),
            "",
            "CPU milliseconds per photo on one thread (median of the repeats). catsort: "
            "`load_image`, decoded at the size shown; full decode: the whole image decoded, "
            "turned upright, made RGB and filtered to the model's size, as before issue 27.",
            "",
            *markdown_table(
                [["Target", "Measured", "Result"]]
                + [[c.target, c.measured, c.verdict] for c in checks],
                right=(),
            ),
        ]
    )
    print()
    print(text)
    if args.markdown:
        write_markdown(Path(args.markdown), text + "\n", MARKER)
        print(f"Wrote the results into {args.markdown}")
    return 1 if any(check.passed is False for check in checks) else 0


def time_paths(files: list[Path], repeats: int) -> tuple[float, float]:
    """Median milliseconds per photo of load_image and of the full decode over ``files``."""
    ours: list[float] = []
    full: list[float] = []
    for _ in range(repeats):
        ours.append(_per_photo(files, lambda p: load_image(p, SIZE)))
        full.append(_per_photo(files, full_decode))
    return median(ours), median(full)


def full_decode(path: Path) -> np.ndarray:
    """The path before issue 27: the whole image (a JPEG or RAW preview drafted), plain filter."""
    if is_raw_name(path):
        preview, orientation = open_preview(path)
        with preview as img:
            img.draft("RGB", (max(SIZE), max(SIZE)))
            return _filtered(upright(img, orientation))
    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", (max(SIZE), max(SIZE)))
        return _filtered(upright(img))


def decoded_at(path: Path) -> str:
    """The size catsort decodes the file at, and how, in words."""
    if is_raw_name(path):
        preview, _ = open_preview(path)
        with preview as img:
            img.draft("RGB", (max(SIZE), max(SIZE)))
            return f"{img.width}x{img.height} (preview, drafted)"
    with Image.open(path) as img:
        full = img.size
    with open_image(path, SIZE) as img:
        img.load()
        size = img.size
    if size == full:
        return f"{size[0]}x{size[1]} (in full)"
    return f"{size[0]}x{size[1]}"


def make_checks(per_photo: dict[str, float], full_decodes: dict[str, float]) -> list[Check]:
    """Issue 27's speed targets for HEIC."""
    heic, jpeg = per_photo.get("HEIC, 320-px thumbnail 12 MP"), per_photo.get("JPEG 12 MP")
    plain, before = (
        per_photo.get("HEIC, no thumbnail 12 MP"),
        full_decodes.get("HEIC, no thumbnail 12 MP"),
    )
    checks = []
    if heic is not None and jpeg is not None:
        checks.append(
            Check(
                f"HEIC with a thumbnail <= {HEIC_VS_JPEG}x a 12 MP JPEG",
                f"{heic:.1f} vs {jpeg:.1f} ms ({heic / jpeg:.2f}x)",
                heic <= HEIC_VS_JPEG * jpeg,
            )
        )
    if plain is not None and before is not None:
        checks.append(
            Check(
                "HEIC without a thumbnail no slower than its full decode before (5 % noise)",
                f"{plain:.1f} vs {before:.1f} ms ({plain / before:.2f}x)",
                plain <= 1.05 * before,
            )
        )
    return checks


def other_formats(count: int, sources: list[Path], tag: str) -> Path:
    """Folders of the formats a phone does not write, made from the same photos."""
    name = f"formats-{count}-{tag}-v{corpora.VERSION}"

    def build(root: Path) -> None:
        print(f"Generating {count} files per format in {root} (once; cached) ...")
        for folder in FORMAT_FOLDERS:
            (root / folder).mkdir()
        noise = corpora.noise_field()
        lzw = {"compression": "tiff_lzw"}
        for index, source in enumerate(itertools.islice(itertools.cycle(sources), count)):
            stem = f"IMG_{index:04d}"
            (root / "small-jpeg" / f"{stem}.jpg").write_bytes(source.read_bytes())
            with Image.open(source) as original:
                small = original.convert("RGB")
            small.save(root / "small-png" / f"{stem}.png")
            small.save(root / "small-webp" / f"{stem}.webp", quality=90)
            small.save(
                root / "small-heic" / f"{stem}.heic",
                format="HEIF",
                quality=corpora.HEIC_QUALITY,
                thumbnails=[corpora.HEIC_THUMBNAIL],
            )
            big = corpora.phone_photo(source, index, noise, portrait=False)
            big.save(root / "png" / f"{stem}.png")
            big.save(root / "webp" / f"{stem}.webp", quality=85)
            big.save(root / "avif" / f"{stem}.avif", quality=60)
            big.save(root / "tiff" / f"{stem}.tif", **lzw)
            reduced = big.reduce(4)  # 1008x756, marked as a reduced-resolution copy
            reduced.encoderinfo = {"tiffinfo": {254: 1}, **lzw}
            pyramid = root / "tiff-pyramid" / f"{stem}.tif"
            big.save(pyramid, save_all=True, append_images=[reduced], **lzw)
            second = big.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            pages = root / "tiff-pages" / f"{stem}.tif"
            big.save(pages, save_all=True, append_images=[second], **lzw)

    return corpora._cached(name, build)


def _per_photo(files: list[Path], step: Callable[[Path], object]) -> float:
    # CPU time of the process: on an idle machine the wall time of this one thread, and where
    # other programs share the cores still what a photo costs (wall time there is mostly
    # waiting for a core).
    started = time.process_time()
    for path in files:
        step(path)
    return (time.process_time() - started) / len(files) * 1000


def _filtered(img: Image.Image) -> np.ndarray:
    rgb = to_rgb(img).resize((SIZE[1], SIZE[0]), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{share:.0%}"


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10, help="files per format (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (median)")
    parser.add_argument(
        "--validation", type=Path, default=DEFAULT_VALIDATION, help="the photos to start from"
    )
    parser.add_argument(
        "--markdown", metavar="PATH", help=f"write the results between the {MARKER} markers"
    )
    args = parser.parse_args()
    if args.count < 1 or args.repeats < 1:
        parser.error("--count and --repeats must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main())
