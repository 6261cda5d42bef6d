"""Finding and loading a training set of class folders, through catsort's own image loader."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catsort.errors import CatsortError
from catsort.images import is_image_name, load_image
from catsort.metadata import validate_labels

DATASET_URL = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"


@dataclass
class Split:
    """Decoded images of one split: pixels (N, H, W, 3) uint8, class indices, file paths."""

    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.paths)


@dataclass
class FileLists:
    """The files of each split as (path, class index) pairs, before decoding."""

    class_dirs: list[str]
    train: list[tuple[Path, int]]
    validation: list[tuple[Path, int]]
    test: list[tuple[Path, int]]


def download_default_dataset() -> Path:
    """Download cats_and_dogs_filtered (cached by Keras) and return its folder."""
    import keras

    try:
        archive = Path(
            keras.utils.get_file("cats_and_dogs_filtered.zip", origin=DATASET_URL, extract=True)
        )
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CatsortError(
            f"cannot download cats_and_dogs_filtered ({reason}); pass --data "
            "with a folder of class folders"
        ) from None
    for candidate in [archive, *archive.parent.rglob("cats_and_dogs_filtered")]:
        if (candidate / "train").is_dir():
            return candidate
    raise CatsortError(f"{archive}: download did not contain a train/ folder")


def list_files(
    root: Path, val_split: float = 0.2, test_fraction: float = 0.5, seed: int = 1337
) -> FileLists:
    """Find the class folders under ``root`` and split their files into train/validation/test.

    ``root`` holds either ``train/`` and ``validation/`` (or ``val/``) folders of class
    subfolders, or the class subfolders themselves (then ``val_split`` of each class is held
    out). The test split is a fixed, class-balanced part of the held-out files, disjoint from
    validation.
    """
    if root.exists() and not root.is_dir():
        raise CatsortError(f"{root}: is a file; give --data a folder of class folders")
    if not root.is_dir():
        raise CatsortError(f"{root}: data folder not found; give --data a folder of class folders")
    rng = random.Random(seed)
    held_out_dir = next(
        (root / name for name in ("validation", "val") if (root / name).is_dir()), None
    )
    if (root / "train").is_dir() and held_out_dir is not None:
        class_dirs = _class_dirs(root / "train")
        train = _files_of(root / "train", class_dirs)
        held_out = _files_of(held_out_dir, class_dirs)
    else:
        class_dirs = _class_dirs(root)
        train, held_out = [], []
        for index, name in enumerate(class_dirs):
            photos = _images_in(root / name)
            rng.shuffle(photos)
            cut = max(1, round(len(photos) * val_split))
            held_out += [(path, index) for path in photos[:cut]]
            train += [(path, index) for path in photos[cut:]]
    validation: list[tuple[Path, int]] = []
    test: list[tuple[Path, int]] = []
    for index in range(len(class_dirs)):
        files = [item for item in held_out if item[1] == index]
        rng.shuffle(files)
        cut = round(len(files) * test_fraction)
        test += files[:cut]
        validation += files[cut:]
    if not validation:
        raise CatsortError(f"{root}: no held-out images for validation")
    return FileLists(class_dirs, train, validation, test)


def default_labels(class_dirs: list[str], mapping: dict[str, str] | None = None) -> tuple[str, ...]:
    """Turn folder names into labels: ``mapping`` first, else singular forms (cats -> cat)."""
    mapping = mapping or {}
    unknown = set(mapping) - set(class_dirs)
    if unknown:
        raise CatsortError(f"--labels names unknown class folders: {', '.join(sorted(unknown))}")
    names = list(class_dirs)
    if all(name.lower().endswith("s") and not name.lower().endswith("ss") for name in class_dirs):
        # Folders are usually plural ("cats"), but a label names one photo ("cat").
        names = [
            name[:-3] + "y" if name.lower().endswith("ies") else name[:-1] for name in class_dirs
        ]
    labels = tuple(mapping.get(folder, label) for folder, label in zip(class_dirs, names))
    validate_labels(labels, "class folders")
    return labels


def load_split(
    files: list[tuple[Path, int]],
    size: tuple[int, int],
    warn: Callable[[str], None] = print,
    workers: int = 4,
) -> Split:
    """Decode files with catsort.images.load_image, skipping (and naming) unreadable ones."""

    def load(item: tuple[Path, int]) -> np.ndarray | None:
        try:
            return load_image(item[0], size)
        except CatsortError as exc:
            warn(f"skipping {exc}")
            return None

    with ThreadPoolExecutor(workers) as pool:
        decoded = list(pool.map(load, files))
    kept = [(pixels, item) for pixels, item in zip(decoded, files) if pixels is not None]
    if not kept:
        return Split(np.zeros((0, *size, 3), np.uint8), np.zeros(0, np.int64), [])
    return Split(
        images=np.stack([pixels for pixels, _ in kept]),
        labels=np.array([item[1] for _, item in kept], dtype=np.int64),
        paths=[item[0] for _, item in kept],
    )


def fingerprint(files: list[tuple[Path, int]], root: Path) -> str:
    """Hash the relative paths, sizes and classes of a file list, to identify a data set."""
    digest = hashlib.sha256()
    for path, index in sorted(files):
        relative = path.relative_to(root) if path.is_relative_to(root) else path
        digest.update(f"{relative.as_posix()}\t{path.stat().st_size}\t{index}\n".encode())
    return digest.hexdigest()[:16]


def _class_dirs(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(names) < 2:
        found = f"only {names[0]!r}" if names else "none"
        raise CatsortError(f"{folder}: need at least two class folders, found {found}")
    for name in names:
        if not _images_in(folder / name):
            raise CatsortError(f"{folder / name}: class folder has no images")
    return names


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if is_image_name(p) and p.is_file() and not p.name.startswith(".")
    )


def _files_of(split_dir: Path, class_dirs: list[str]) -> list[tuple[Path, int]]:
    return [
        (path, index)
        for index, name in enumerate(class_dirs)
        for path in _images_in(split_dir / name)
    ]
