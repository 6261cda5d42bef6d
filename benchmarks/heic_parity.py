"""HEIC parity: the validation photos saved as HEIC with thumbnails get their JPEG's label.

    python benchmarks/heic_parity.py                      # the 1,000 validation photos
    python benchmarks/heic_parity.py --limit 200 --quality 80

Each photo of ../shared/data/cats_and_dogs_filtered/validation is saved as HEIC with a 320-pixel
thumbnail (pillow-heif, as a phone would; made once, then kept in corpora.cache_root()). The
shipped model then labels three versions of it: the JPEG, the HEIC as catsort reads it (from the
thumbnail where it is a usable scaled copy, else in full), and the HEIC decoded in full. The
target (issue 27): catsort's label of the HEIC is the JPEG's for at least 99 % of the photos.
Every photo where they differ is listed with its scores. No TensorFlow needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import corpora
import numpy as np
from PIL import Image

from catsort.decision import Prediction, decide
from catsort.decoding import open_image
from catsort.images import load_image, prepare
from catsort.model import Classifier, load_model

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VALIDATION = REPO.parent / "shared" / "data" / "cats_and_dogs_filtered" / "validation"
TARGET = 0.99
THUMBNAIL = corpora.HEIC_THUMBNAIL
#: A photo converted to HEIC by a photo app; the 12 MP phone corpus, grainier, uses a lower one.
QUALITY = 80


def main() -> int:
    """Make the HEIC copies if needed, label all three versions, print the comparison."""
    args = parse_args()
    jpegs = sorted(args.validation.glob("*/*.jpg"))[: args.limit or None]
    if not jpegs:
        sys.exit(f"no photos under {args.validation} (needs ../shared, or pass --validation)")
    heics = heic_copies(jpegs, args.validation, args.quality)
    model = load_model(args.model)
    size = model.metadata.input_size
    print(f"Labelling {len(jpegs)} photos three ways with {model.path} ...")
    started = time.perf_counter()
    as_jpeg = predict(model, [load_image(p, size) for p in jpegs])
    as_heic = predict(model, [load_image(p, size) for p in heics])
    in_full = predict(model, [full_decode(p, size) for p in heics])
    paths = [thumbnail_taken(p, size) for p in heics]
    offered = sum(thumbnail_offered(p, size) for p in heics)
    print(f"  done in {time.perf_counter() - started:.0f} s")

    same = sum(a.label == b.label for a, b in zip(as_jpeg, as_heic))
    same_full = sum(a.label == b.label for a, b in zip(in_full, as_heic))
    taken = sum(paths)
    print()
    print(f"Photos: {len(jpegs)}; HEIC quality {args.quality}, thumbnails of {THUMBNAIL} px")
    print(
        f"catsort read {taken} HEICs from their thumbnail, {len(heics) - taken} in full: "
        f"{len(heics) - offered} have no thumbnail that is a scaled copy of at least "
        f"{size[1]}x{size[0]}, {offered - taken} of the thumbnails pillow-heif offered had a "
        "dark edge (the letterbox check)"
    )
    print(
        f"Same label as the JPEG: {same}/{len(jpegs)} ({same / len(jpegs):.2%}); "
        f"catsort's HEIC label is the full HEIC decode's for {same_full}/{len(jpegs)} "
        f"({same_full / len(jpegs):.2%})"
    )
    differing = [
        (jpeg, a, b, c, took)
        for jpeg, a, b, c, took in zip(jpegs, as_jpeg, as_heic, in_full, paths)
        if a.label != b.label
    ]
    if differing:
        print("\nPhotos whose HEIC label differs from the JPEG's (p(dog), pet score):")
        print(f"  {'photo':28s} {'JPEG':>22s} {'HEIC, catsort':>22s} {'HEIC in full':>22s}  read")
        for jpeg, a, b, c, took in differing:
            print(
                f"  {jpeg.parent.name + '/' + jpeg.name:28s} {_scores(a):>22s} "
                f"{_scores(b):>22s} {_scores(c):>22s}  {'thumbnail' if took else 'in full'}"
            )
    passed = same / len(jpegs) >= TARGET
    print(
        f"\nTarget: same label as the JPEG for >= {TARGET:.0%}: "
        f"{same / len(jpegs):.2%} {'PASS' if passed else 'FAIL'}"
    )
    return 0 if passed else 1


def heic_copies(jpegs: list[Path], root: Path, quality: int) -> list[Path]:
    """The HEIC copy of each photo (cats/x.heic beside dogs/y.heic), made once and kept."""
    name = f"heic-parity-{len(jpegs)}-q{quality}-t{THUMBNAIL}-v{corpora.VERSION}"

    def build(folder: Path) -> None:
        print(f"Saving {len(jpegs)} photos as HEIC in {folder} (once; cached) ...")
        for jpeg in jpegs:
            target = folder / jpeg.relative_to(root).with_suffix(".heic")
            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(jpeg) as img:
                img.convert("RGB").save(
                    target, format="HEIF", quality=quality, thumbnails=[THUMBNAIL]
                )

    folder = corpora._cached(name, build)
    return [folder / jpeg.relative_to(root).with_suffix(".heic") for jpeg in jpegs]


def full_decode(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The HEIC decoded in full (no thumbnail), then the one preprocessing."""
    with Image.open(path) as img:
        return prepare(img, path, size)


def thumbnail_taken(path: Path, size: tuple[int, int]) -> bool:
    """Tell whether catsort reads the file from its thumbnail."""
    with Image.open(path) as img:
        full = img.size
    with open_image(path, size) as img:
        img.load()
        return img.size != full


def thumbnail_offered(path: Path, size: tuple[int, int]) -> bool:
    """Tell whether pillow-heif offers a thumbnail for the size (before catsort's own check)."""
    with Image.open(path) as img:
        return img.draft(img.mode, (max(size), max(size))) is not None


def predict(model: Classifier, images: list[np.ndarray], batch: int = 32) -> list[Prediction]:
    """The model's decision for each image, as classify makes it."""
    out: list[Prediction] = []
    for start in range(0, len(images), batch):
        scores = model.predict(np.stack(images[start : start + batch]))
        for row, logits in enumerate(scores.logits):
            pet = None if scores.pet_score is None else float(scores.pet_score[row])
            out.append(decide(logits, pet, model.metadata))
    return out


def _scores(prediction: Prediction) -> str:
    dog = prediction.probabilities.get("dog", float("nan"))
    pet = "" if prediction.pet_score is None else f", {prediction.pet_score:.2f}"
    return f"{prediction.label} ({dog:.3f}{pet})"


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--validation", type=Path, default=DEFAULT_VALIDATION)
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    parser.add_argument("--quality", type=int, default=QUALITY, help="HEIC quality (%(default)s)")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
