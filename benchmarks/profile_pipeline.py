"""Where classify's time goes, in process: decoding, resizing, inference, and the whole pipeline.

    python benchmarks/profile_pipeline.py FOLDER [--model M.json] [--limit 200]

1. Per photo, one thread: a full JPEG decode, a draft decode (what load_image does), the resize,
   and load_image itself.
2. The model alone on batches of random pixels, per interpreter thread count.
3. catsort.pipeline.classify_paths end to end, for worker count x batch size (x libheif's
   decoding threads with --decode-threads, for folders of HEIC files).
4. The ceiling: the model alone on the photos' pixels, decoded beforehand, run the way
   classify's workers run it (one single-threaded copy per worker, batches of 8).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from corpora import image_files  # noqa: E402

from catsort.images import load_image, to_rgb  # noqa: E402
from catsort.model import load_model  # noqa: E402
from catsort.pipeline import classify_paths  # noqa: E402


def main() -> None:
    """Print the four profiles for the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", type=Path, default=REPO / "exported" / "catsort.json")
    parser.add_argument("--limit", type=int, default=200, help="photos to use from the folder")
    parser.add_argument("--threads", default="1,2", help="model thread counts to try")
    parser.add_argument("--workers", default="1,2", help="worker counts to try")
    parser.add_argument("--batch-sizes", default="4,8,32")
    parser.add_argument(
        "--decode-threads", default="", help="libheif decoding threads to try in 3, e.g. 1,2,4"
    )
    args = parser.parse_args()
    paths = image_files(args.folder)[: args.limit]
    for path in paths:
        path.read_bytes()  # page cache
    classifier = load_model(args.model, 1)
    size = classifier.metadata.input_size
    print(
        f"{len(paths)} photos from {args.folder}; model {args.model} "
        f"({classifier.metadata.quantization}, {size[0]}x{size[1]})\n"
    )

    print("1. Decoding, one thread (ms per photo):")
    for name, step in (
        ("full decode", _full_decode),
        ("draft decode", _draft_decode),
        ("draft decode + exif + rgb + resize", _decode_and_resize),
        ("load_image", lambda p, s: load_image(p, s)),
    ):
        print(f"   {name:36s} {_per_item_ms(step, paths, size):7.2f}")

    print("\n2. The model alone (ms per photo, batches of 32):")
    batch = np.random.default_rng(0).integers(0, 256, (32, *size, 3), dtype=np.uint8)
    for threads in _ints(args.threads):
        model = load_model(args.model, threads)
        model.predict(batch)  # first call allocates
        started = time.perf_counter()
        for _ in range(3):
            model.predict(batch)
        print(f"   threads={threads}: {(time.perf_counter() - started) / 96 * 1000:7.2f}")

    print("\n3. classify_paths end to end (photos per second):")
    decode_threads = _ints(args.decode_threads) if args.decode_threads else [0]
    for threads, workers, batch_size in itertools.product(
        decode_threads, _ints(args.workers), _ints(args.batch_sizes)
    ):
        if threads:
            pillow_heif.options.DECODE_THREADS = threads
        model = load_model(args.model, 1)  # as catsort classify does: one thread per worker
        started = time.perf_counter()
        done = sum(
            result.ok
            for result in classify_paths(paths, model, batch_size=batch_size, workers=workers)
        )
        rate = done / (time.perf_counter() - started)
        heif = f" decode_threads={threads}" if threads else ""
        print(f"  {heif} workers={workers} batch={batch_size:3d}: {rate:7.1f}")

    print("\n4. The model alone, pixels decoded beforehand (photos per second):")
    pixels = np.stack([load_image(path, size) for path in paths])
    for workers in _ints(args.workers):
        print(f"   workers={workers}: {_model_only_rate(args.model, pixels, workers):7.1f}")


def _per_item_ms(step, paths: list[Path], size: tuple[int, int]) -> float:
    started = time.perf_counter()
    for path in paths:
        step(path, size)
    return (time.perf_counter() - started) / len(paths) * 1000


def _full_decode(path: Path, size: tuple[int, int]) -> None:
    with Image.open(path) as img:
        img.load()


def _draft_decode(path: Path, size: tuple[int, int]) -> None:
    with Image.open(path) as img:
        img.draft("RGB", (max(size), max(size)))
        img.load()


def _decode_and_resize(path: Path, size: tuple[int, int]) -> None:
    with Image.open(path) as img:
        img.draft("RGB", (max(size), max(size)))
        img = ImageOps.exif_transpose(img) or img
        to_rgb(img).resize((size[1], size[0]), Image.Resampling.BILINEAR)


def _model_only_rate(model_path: Path, pixels: np.ndarray, workers: int) -> float:
    """Photos per second of the model alone: one single-threaded copy per worker thread."""
    batches = [pixels[start : start + 8] for start in range(0, len(pixels), 8)]
    models = [load_model(model_path, 1) for _ in range(workers)]
    for model in models:
        model.predict(batches[0])  # first call allocates

    def work(model, share: list[np.ndarray]) -> None:
        for batch in share:
            model.predict(batch)

    threads = [
        threading.Thread(target=work, args=(model, batches[index::workers]))
        for index, model in enumerate(models)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(pixels) / (time.perf_counter() - started)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


if __name__ == "__main__":
    main()
