"""Check an exported model's pet gate on pets, non-pet photos and synthetic non-photos.

    python -m catsort.training.evaluate --model exported --pets DIR --others DIR
    python -m catsort.training.evaluate --model exported --labelled DIR --others DIR

Runs through catsort's own runtime (no TensorFlow) and prints, per set, how many photos are
gated out as ``other`` and how many would be sorted as a pet; for ``--labelled`` folders of
class folders (cats/, dogs/), also how many classify would sort into the right folder, leave
``uncertain`` or send to the wrong one. Nothing here fits or calibrates anything: sets such as
``../shared/data/pets-elsewhere`` are for measuring only, never for training or calibrating.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from catsort.decision import decide
from catsort.errors import CatsortError
from catsort.images import is_image_name, load_image
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier, load_model


def gate_rates(scores: np.ndarray, gate_threshold: float) -> dict[str, float]:
    """Share of photos gated out (pet score below the threshold) and their median score."""
    return {
        "photos": len(scores),
        "gated_out": float((scores < gate_threshold).mean()),
        "median_score": float(np.median(scores)),
    }


def _pet_score(classifier: Classifier, batch: list[np.ndarray]) -> np.ndarray:
    score = classifier.predict(np.stack(batch)).pet_score
    if score is None:
        raise CatsortError(f"{classifier.path}: this model has no pet gate to evaluate")
    return score


def pet_scores(classifier: Classifier, paths: list[Path], batch_size: int = 32) -> np.ndarray:
    """Pet scores of readable images, in order (unreadable ones are left out)."""
    size = classifier.metadata.input_size
    scores: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    for path in paths:
        try:
            batch.append(load_image(path, size))
        except CatsortError:
            continue
        if len(batch) == batch_size:
            scores.append(_pet_score(classifier, batch))
            batch = []
    if batch:
        scores.append(_pet_score(classifier, batch))
    return np.concatenate(scores) if scores else np.zeros(0)


def outcomes(classifier: Classifier, paths: list[Path], truth: str) -> dict[str, float]:
    """Shares of photos of class ``truth`` sorted right, gated out, uncertain or sent wrong."""
    size = classifier.metadata.input_size
    counts = {"right": 0, "gated_out": 0, "uncertain": 0, "wrong": 0}
    images = []
    for path in paths:
        try:
            images.append(load_image(path, size))
        except CatsortError:
            continue
    for first in range(0, len(images), 32):
        out = classifier.predict(np.stack(images[first : first + 32]))
        for row, logits in enumerate(out.logits):
            pet = None if out.pet_score is None else out.pet_score[row]
            label = decide(logits, pet, classifier.metadata).label
            kind = {OTHER: "gated_out", UNCERTAIN: "uncertain", truth: "right"}.get(label, "wrong")
            counts[kind] += 1
    total = max(len(images), 1)
    return {"photos": len(images), **{k: v / total for k, v in counts.items()}}


def _class_of(folder: Path, labels: tuple[str, ...]) -> str | None:
    name = folder.name.lower()
    return next((label for label in labels if name in (label, label + "s")), None)


def synthetic_non_photos(folder: Path, size: int = 800) -> dict[str, list[Path]]:
    """Write solid colours, noise, text screenshots, white pages and smooth gradients."""
    rng = np.random.default_rng(7)
    made: dict[str, list[Path]] = {}

    def save(kind: str, image: Image.Image) -> None:
        path = folder / f"{kind}-{len(made.get(kind, []))}.png"
        image.save(path)
        made.setdefault(kind, []).append(path)

    for colour in [
        (0, 0, 0),
        (255, 255, 255),
        (200, 30, 30),
        (30, 160, 60),
        (40, 60, 200),
        (128, 128, 128),
        (250, 220, 120),
        (90, 60, 30),
    ]:
        save("solid", Image.new("RGB", (size, size), colour))
    for sigma in (10, 40, 90):
        for _ in range(3):
            noise = rng.normal(128, sigma, (size, size, 3)).clip(0, 255).astype(np.uint8)
            save("noise", Image.fromarray(noise))
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "meeting",
        "notes",
        "invoice",
        "total",
    ]
    for page in range(6):
        image = Image.new("RGB", (size * 3 // 2, size), "white" if page % 2 == 0 else "#1e1e1e")
        draw = ImageDraw.Draw(image)
        for line in range(40):
            text = " ".join(rng.choice(words, 10))
            draw.text((20, 10 + 19 * line), text, fill="black" if page % 2 == 0 else "#dddddd")
        save("text", image)
    for _ in range(3):
        blank = Image.new("RGB", (size * 3 // 4, size), "white")
        save("white-page", blank.filter(ImageFilter.GaussianBlur(2)))
    for _ in range(4):
        ramp = np.linspace(0, 255, size)[None, :, None] * rng.uniform(0.2, 1, (1, 1, 3))
        save("gradient", Image.fromarray(np.broadcast_to(ramp, (size, size, 3)).astype(np.uint8)))
    return made


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


def main() -> None:
    """Print the gate's rates on each set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--pets", type=Path, action="append", default=[])
    parser.add_argument(
        "--labelled",
        type=Path,
        action="append",
        default=[],
        help="a folder of class folders named after the labels (cats/, dogs/); measured only",
    )
    parser.add_argument("--others", type=Path, default=None)
    parser.add_argument("--scenes", type=int, default=12, help="full-size scenes to make")
    args = parser.parse_args()
    classifier = load_model(args.model)
    threshold = classifier.metadata.gate_threshold
    if threshold is None:
        raise SystemExit("this model has no pet gate")
    rows: list[tuple[str, dict[str, float]]] = []

    def measure(name: str, paths: list[Path]) -> np.ndarray:
        scores = pet_scores(classifier, paths)
        rows.append((name, gate_rates(scores, threshold)))
        return scores

    for folder in args.pets:
        measure(f"pets: {folder}", _images_under(folder))
    sorted_rows: list[tuple[str, dict[str, float]]] = []
    for folder in args.labelled:
        # Measuring only: whatever these folders hold never fits or calibrates the gate.
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            truth = _class_of(sub, classifier.metadata.labels)
            if truth is not None:
                paths = _images_under(sub)
                measure(f"pets: {sub}", paths)
                sorted_rows.append((str(sub), outcomes(classifier, paths, truth)))
    with tempfile.TemporaryDirectory() as tmp:
        if args.others is not None:
            others = _images_under(args.others)
            kinds = sorted(p for p in args.others.iterdir() if p.is_dir())
            scores = [measure(f"others: {kind.name}", _images_under(kind)) for kind in kinds]
            loose = [p for p in others if p.parent == args.others]
            scores.append(pet_scores(classifier, loose))
            rows.append(("others: all", gate_rates(np.concatenate(scores), threshold)))
            picks = others[:: max(1, len(others) // args.scenes)][: args.scenes]
            measure("full-size scenes (upscaled others)", upscaled_scenes(picks, Path(tmp)))
        for kind, paths in synthetic_non_photos(Path(tmp)).items():
            measure(f"synthetic: {kind}", paths)
    print(f"gate threshold {threshold:.4f} ({classifier.path})")
    print(f"{'set':45} {'photos':>7} {'gated out':>10} {'accepted':>9} {'median score':>13}")
    for name, rate in rows:
        print(
            f"{name:45} {rate['photos']:7d} {rate['gated_out']:10.1%} "
            f"{1 - rate['gated_out']:9.1%} {rate['median_score']:13.3f}"
        )
    if sorted_rows:
        print(f"\n{'pets':45} {'photos':>7} {'right':>7} {'gated':>7} {'uncert.':>8} {'wrong':>7}")
    for name, share in sorted_rows:
        print(
            f"{name:45} {share['photos']:7d} {share['right']:7.1%} {share['gated_out']:7.1%} "
            f"{share['uncertain']:8.1%} {share['wrong']:7.1%}"
        )


if __name__ == "__main__":
    main()
