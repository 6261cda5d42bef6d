"""Check an exported model on pets, non-pet photos, composites and synthetic non-photos.

    python -m catsort.training.evaluate --model exported --labelled DIR --others DIR
    python -m catsort.training.evaluate --model exported --composites DIR

Runs through catsort's own pipeline (no TensorFlow), which decides each photo as ``classify``
does, and prints, per set, how many photos are let in (not ``other``: sorted, or left
``uncertain``) and, for pets, how many go into the right folder, the wrong one, or are gated
out as ``other`` or left ``uncertain``. ``--labelled`` takes folders of class folders (cats/,
dogs/); ``--composites`` a set built by ``python -m catsort.training.composites``: pets pasted
at a share of the width into larger scenes, the scenes alone and synthetic non-photos, counted
per width and kind of scene. Nothing here fits or calibrates anything: sets such as
``../shared/data/pets-elsewhere`` and composites made from it are for measuring only.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from catsort.images import is_image_name
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier, load_model
from catsort.pipeline import PhotoResult, classify_paths, split_threads

from .composites import (
    HALVES,
    NO_PET,
    Box,
    others_half,
    read_manifest,
    synthetic_non_photos,
)


@dataclass(frozen=True)
class Tally:
    """What classify made of a set of photos of one truth (a label, or none for non-pets)."""

    photos: int
    right: int = 0  # sorted into the truth's folder
    wrong: int = 0  # sorted into another label's folder (for non-pets: any folder)
    gated: int = 0  # gated out as "other"
    uncertain: int = 0
    from_region: int = 0  # decided on a part of the photo (a box), not the whole
    boxed: int = 0  # of those, how many are of photos whose pet's box is known
    on_pet: int = 0  # and of these, how many boxes have their centre on the pet
    top: int = 0  # the most probable label is the truth, whatever was done (the CSV's accuracy)
    median_score: float = float("nan")

    @property
    def let_in(self) -> int:
        """Photos not gated out: sorted, or left uncertain."""
        return self.photos - self.gated

    def share(self, count: int) -> float:
        """``count`` as a share of the photos (0 for an empty set)."""
        return count / self.photos if self.photos else 0.0


def tally(
    results: Sequence[PhotoResult], truth: str | None, boxes: Sequence[Box | None] = ()
) -> Tally:
    """Count the outcomes of classified photos whose class is ``truth`` (None: no pet).

    Unreadable photos are left out. ``boxes``: where each photo's pet is, to check the box a
    region decision gives.
    """
    names = ("right", "wrong", "gated", "uncertain", "from_region", "boxed", "on_pet", "top")
    counts = dict.fromkeys(names, 0)
    scores = []
    photos = 0
    for index, result in enumerate(results):
        prediction = result.prediction
        if prediction is None:
            continue
        photos += 1
        if prediction.pet_score is not None:
            scores.append(prediction.pet_score)
        kind = {OTHER: "gated", UNCERTAIN: "uncertain"}.get(prediction.label)
        if kind is None:
            kind = "right" if prediction.label == truth else "wrong"
        counts[kind] += 1
        probs = prediction.probabilities
        if probs and max(probs, key=probs.__getitem__) == truth:
            counts["top"] += 1
        if prediction.box is not None and kind in ("right", "wrong"):
            counts["from_region"] += 1
            pet = boxes[index] if index < len(boxes) else None
            if pet is not None:
                counts["boxed"] += 1
                counts["on_pet"] += _centre_inside(prediction.box, pet)
    median = float(np.median(scores)) if scores else float("nan")
    return Tally(photos=photos, median_score=median, **counts)


def _centre_inside(box: Box, pet: Box) -> bool:
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return pet[0] <= x <= pet[2] and pet[1] <= y <= pet[3]


def classify_all(classifier: Classifier, paths: Sequence[Path]) -> list[PhotoResult]:
    """Classify ``paths`` as ``catsort classify`` would (no cache), results in order."""
    return list(classify_paths(paths, classifier))


def _class_of(folder: Path, labels: tuple[str, ...]) -> str | None:
    name = folder.name.lower()
    return next((label for label in labels if name in (label, label + "s")), None)


def upscaled_scenes(sources: list[Path], folder: Path, width: int = 4032) -> list[Path]:
    """Full-size JPEG 'camera photos' made by upscaling small non-pet photos with noise."""
    rng = np.random.default_rng(3)
    paths = []
    for index, source in enumerate(sources):
        with Image.open(source) as img:
            big = img.convert("RGB").resize((width, width * 3 // 4), Image.Resampling.BICUBIC)
        noisy = np.asarray(big, dtype=np.int16) + rng.normal(0, 3, (big.height, big.width, 1))
        buffer = io.BytesIO()
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
        path = folder / f"scene-{index}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if is_image_name(p) and p.is_file())


class Report:
    """The rows printed at the end: sets counted by what is let in, and pets by outcome."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.non_pets: list[tuple[str, Tally]] = []
        self.pets: list[tuple[str, Tally]] = []

    def non_pet(self, name: str, paths: Sequence[Path]) -> Tally:
        """Classify a set of no class in particular; record how many are let in."""
        counted = tally(classify_all(self.classifier, paths), None)
        self.non_pets.append((name, counted))
        return counted

    def pet(self, name: str, paths: Sequence[Path], truth: str, boxes=()) -> Tally:
        """Classify a set of pets of class ``truth``; record the outcomes."""
        counted = tally(classify_all(self.classifier, paths), truth, boxes)
        self.pets.append((name, counted))
        return counted

    def print(self) -> None:
        """Print both tables."""
        if self.non_pets:
            print(f"{'set':48} {'photos':>7} {'let in':>8} {'sorted':>8} {'median score':>13}")
        for name, t in self.non_pets:
            print(
                f"{name:48} {t.photos:7d} {t.share(t.let_in):8.1%} {t.share(t.wrong):8.1%} "
                f"{t.median_score:13.3f}"
            )
        if self.pets:
            print(
                f"\n{'pets':48} {'photos':>7} {'right':>7} {'wrong':>7} {'gated':>7} "
                f"{'uncert.':>8} {'region':>7} {'on pet':>7} {'top-1':>7}"
            )
        for name, t in self.pets:
            on_pet = f"{t.on_pet / t.boxed:7.0%}" if t.boxed else f"{'':>7}"
            print(
                f"{name:48} {t.photos:7d} {t.share(t.right):7.1%} {t.share(t.wrong):7.1%} "
                f"{t.share(t.gated):7.1%} {t.share(t.uncertain):8.1%} "
                f"{t.share(t.from_region):7.1%} {on_pet} {t.share(t.top):7.1%}"
            )


def add_others(report: Report, others: Path, scenes: int, tmp: Path) -> None:
    """Each class of ``others``, all of them, each half, and full-size scenes made from them."""
    photos = _images_under(others)
    results = dict(zip(photos, classify_all(report.classifier, photos)))
    for kind in sorted(p for p in others.iterdir() if p.is_dir()):
        counted = tally([results[p] for p in photos if kind in p.parents], None)
        report.non_pets.append((f"others: {kind.name}", counted))
    report.non_pets.append(("others: all", tally(list(results.values()), None)))
    for half in HALVES:
        chosen = [p for group in others_half(others, half).values() for p in group]
        report.non_pets.append((f"others: {half} half", tally([results[p] for p in chosen], None)))
    if scenes > 0:  # --scenes 0: the photos only
        picks = photos[:: max(1, len(photos) // scenes)][:scenes]
        report.non_pet("full-size scenes (upscaled others)", upscaled_scenes(picks, tmp))


def add_composites(report: Report, folder: Path) -> None:
    """The pets of a composite set per width (and per width and scene), its scenes and its
    synthetic non-photos."""
    entries = read_manifest(folder)
    labels = report.classifier.metadata.labels
    pets = [e for e in entries if e.truth != NO_PET]
    results = dict(
        zip(
            [e.path for e in entries],
            classify_all(report.classifier, [e.path for e in entries]),
        )
    )
    widths = sorted({e.width for e in pets if e.width is not None}, reverse=True)
    for width in widths:
        chosen = [e for e in pets if e.width == width and e.truth in labels]
        counted = _tally_entries(chosen, results)
        report.pets.append((f"composites: pet at {width:.0%} of the width", counted))
        for scene in sorted({e.scene for e in chosen}):
            part = [e for e in chosen if e.scene == scene]
            report.pets.append(
                (f"  {width:.0%}, in a {scene} scene", _tally_entries(part, results))
            )
    for scene in sorted({e.scene for e in entries if e.truth == NO_PET}):
        part = [e for e in entries if e.truth == NO_PET and e.scene == scene]
        report.non_pets.append((f"composites: {scene}", _tally_entries(part, results)))
    synthetic = [e for e in entries if e.truth == NO_PET and e.scene.startswith("synthetic")]
    if synthetic:
        report.non_pets.append(("composites: synthetic, all", _tally_entries(synthetic, results)))


def _tally_entries(entries, results: dict[Path, PhotoResult]) -> Tally:
    """Tally composites of one truth (several labels count per entry's own truth)."""
    parts = [
        tally([results[e.path]], None if e.truth == NO_PET else e.truth, [e.box]) for e in entries
    ]
    fields = (
        "photos",
        "right",
        "wrong",
        "gated",
        "uncertain",
        "from_region",
        "boxed",
        "on_pet",
        "top",
    )
    sums = {f: sum(getattr(t, f) for t in parts) for f in fields}
    scores = [t.median_score for t in parts if not np.isnan(t.median_score)]
    return Tally(**sums, median_score=float(np.median(scores)) if scores else float("nan"))


def main() -> None:
    """Print what classify makes of each set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--pets", type=Path, action="append", default=[], help="pets, any class")
    parser.add_argument(
        "--labelled",
        type=Path,
        action="append",
        default=[],
        help="a folder of class folders named after the labels (cats/, dogs/); measured only",
    )
    parser.add_argument("--others", type=Path, default=None, help="a folder of non-pet folders")
    parser.add_argument(
        "--composites",
        type=Path,
        action="append",
        default=[],
        help="a set built by python -m catsort.training.composites",
    )
    parser.add_argument("--scenes", type=int, default=12, help="full-size scenes to make")
    parser.add_argument(
        "--no-synthetic", action="store_true", help="leave out the synthetic non-photos"
    )
    args = parser.parse_args()
    classifier = load_model(args.model, threads=split_threads()[1])
    threshold = classifier.metadata.gate_threshold
    if threshold is None:
        raise SystemExit("this model has no pet gate")
    report = Report(classifier)
    for folder in args.pets:
        report.non_pet(f"pets, any class: {folder}", _images_under(folder))
    for folder in args.labelled:
        # Measuring only: whatever these folders hold never fits or calibrates the gate.
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            truth = _class_of(sub, classifier.metadata.labels)
            if truth is not None:
                report.pet(f"pets: {sub}", _images_under(sub), truth)
    with tempfile.TemporaryDirectory() as tmp:
        if args.others is not None:
            add_others(report, args.others, args.scenes, Path(tmp))
        if not args.no_synthetic and not args.composites:
            made: dict[str, list[Path]] = {}
            for index, (kind, image) in enumerate(synthetic_non_photos()):
                path = Path(tmp, f"{kind}-{index}.png")
                image.save(path)
                made.setdefault(kind, []).append(path)
            for kind, paths in made.items():
                report.non_pet(f"synthetic: {kind}", paths)
        for folder in args.composites:
            add_composites(report, folder)
        print(f"gate threshold {threshold:.4f} ({classifier.path})")
        report.print()


if __name__ == "__main__":
    main()
