"""Finding a training set in class folders: its layout, its classes, and its three splits.

No TensorFlow here: the layout is checked, and everything wrong with it said, before any is
imported or a photo decoded. The photos themselves are decoded by :mod:`.photos`.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catsort.errors import CatsortError
from catsort.images import is_image_name
from catsort.metadata import validate_labels

from .runs import is_run_folder

DATASET_URL = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"

#: Training photos of the largest class over the smallest's from which classes are weighted.
UNEQUAL = 1.5

#: The names of a held-out folder beside ``train/``, in the order they are looked for.
HELD_OUT_NAMES = ("validation", "val")


@dataclass
class FileLists:
    """The files of each split as (path, class index) pairs, before decoding.

    ``notes`` says what the layout made catsort do that the user did not ask for (folders left
    out, copies counted once, a ``train/`` folder split); each is one line to show before
    training.
    """

    class_dirs: list[str]
    train: list[tuple[Path, int]]
    validation: list[tuple[Path, int]]
    test: list[tuple[Path, int]]
    roots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def all(self) -> list[tuple[Path, int]]:
        """Every file of the three splits."""
        return self.train + self.validation + self.test


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


@dataclass
class _Found:
    """Photos found under one root before splitting: class name -> paths, by where they sit."""

    to_split: dict[str, list[Path]] = field(default_factory=dict)  # class folders to hold out from
    train: dict[str, list[Path]] = field(default_factory=dict)  # a train/ beside validation/
    held_out: dict[str, list[Path]] = field(default_factory=dict)  # that validation/ folder


def list_files(
    roots: Path | Sequence[Path],
    val_split: float = 0.2,
    test_fraction: float = 0.5,
    seed: int = 1337,
    leave_out: Iterable[Path] = (),
) -> FileLists:
    """Find the class folders under each of ``roots`` and split their files three ways.

    Each root holds ``train/`` and ``validation/`` (or ``val/``) folders of class folders, or
    ``train/`` alone, or the class folders themselves; in the last two, ``val_split`` of each
    class is held out. Classes are matched by folder name across roots, and a file whose bytes
    another one already has counts once. The test split is a fixed, class-balanced part of the
    held-out files, disjoint from validation. Folders holding a catsort run, and those in
    ``leave_out`` (the run's own output), are left out wherever they sit, and said.

    Raises CatsortError for a layout that cannot train a model: a missing folder, fewer than
    two classes, an empty class, or a class too small to be trained, validated and tested.
    """
    roots = [roots] if isinstance(roots, Path) else list(roots)
    if not roots:
        raise CatsortError("no data folder given; pass --data with a folder of class folders")
    notes: list[str] = []
    left_out = {_resolved(path) for path in leave_out}
    found = [_find(root, left_out, notes) for root in roots]
    _one_name_per_class(found, notes)
    class_dirs = sorted({name for f in found for part in vars(f).values() for name in part})
    if len(class_dirs) < 2:
        named = f"only {class_dirs[0]!r}" if class_dirs else "none"
        where = ", ".join(str(root) for root in roots)
        raise CatsortError(
            f"{where}: need at least two class folders, one per label (such as cats/ and "
            f"dogs/), found {named}"
        )
    _count_copies_once(found, notes)
    index = {name: i for i, name in enumerate(class_dirs)}
    rng = random.Random(seed)
    train: list[tuple[Path, int]] = []
    held_out: list[tuple[Path, int]] = []
    for f in found:
        for name, paths in f.train.items():
            train += [(path, index[name]) for path in paths]
        for name, paths in f.held_out.items():
            held_out += [(path, index[name]) for path in paths]
    for name in class_dirs:
        photos = [path for f in found for path in f.to_split.get(name, [])]
        if photos:
            rng.shuffle(photos)
            cut = max(1, round(len(photos) * val_split))
            held_out += [(path, index[name]) for path in photos[:cut]]
            train += [(path, index[name]) for path in photos[cut:]]
    train.sort(key=lambda item: item[1])  # class by class, as the folders are listed
    validation: list[tuple[Path, int]] = []
    test: list[tuple[Path, int]] = []
    for class_index in range(len(class_dirs)):
        files = [item for item in held_out if item[1] == class_index]
        rng.shuffle(files)
        cut = round(len(files) * test_fraction)
        test += files[:cut]
        validation += files[cut:]
    lists = FileLists(class_dirs, train, validation, test, [r.absolute() for r in roots], notes)
    _check_sizes(lists, found, val_split, test_fraction)
    return lists


def _find(root: Path, left_out: set[Path], notes: list[str]) -> _Found:
    """The photos under one root, by class folder name and by the split they are kept for."""
    root = root.absolute()
    if root.exists() and not root.is_dir():
        raise CatsortError(f"{root}: is a file; give --data a folder of class folders")
    if not root.is_dir():
        raise CatsortError(f"{root}: data folder not found; give --data a folder of class folders")
    held_out_dir = next((root / n for n in HELD_OUT_NAMES if (root / n).is_dir()), None)
    found = _Found()
    if (root / "train").is_dir() and held_out_dir is not None:
        found.train = _class_folders(root / "train", left_out, notes)
        held = _class_folders(held_out_dir, left_out, notes, need_images=False)
        found.held_out = {name: paths for name, paths in held.items() if name in found.train}
        return found
    if (root / "train").is_dir() and not _subfolders(root, exclude=("train", "test")):
        notes.append(
            f"{root}: no validation/ folder beside train/: holding out part of each class of "
            "train/ for validation and testing"
        )
        found.to_split = _class_folders(root / "train", left_out, notes)
        return found
    found.to_split = _class_folders(root, left_out, notes)
    return found


def _one_name_per_class(found: list[_Found], notes: list[str]) -> None:
    """Make folders that name one class in two forms (``cats/`` and ``cat/``, ``Dogs/`` and
    ``dog/``) one class, under the longer name, and say so.

    The data set has ``cats/``; ``catsort review --export`` writes ``cat/``: given together as
    ``--data``, they are one label, not two.
    """
    names = sorted({name for f in found for part in vars(f).values() for name in part})
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_singular(name).casefold(), []).append(name)
    renamed: dict[str, str] = {}
    for group in groups.values():
        if len(group) > 1:
            keep = max(group, key=lambda name: (len(name), name))
            renamed.update({name: keep for name in group if name != keep})
            notes.append(f"class folders {', '.join(group)}: one class, {keep}")
    for f in found:
        for part in vars(f).values():
            for name in [name for name in part if name in renamed]:
                part.setdefault(renamed[name], []).extend(part.pop(name))


def _singular(name: str) -> str:
    """A folder name's singular form, as labels are named: cats -> cat, puppies -> puppy."""
    if name.lower().endswith("ies"):
        return name[:-3] + "y"
    if name.lower().endswith("s") and not name.lower().endswith("ss"):
        return name[:-1]
    return name


def _class_folders(
    folder: Path, left_out: set[Path], notes: list[str], need_images: bool = True
) -> dict[str, list[Path]]:
    """Class folder name -> its photos (subfolders included); run folders left out, and said."""
    classes: dict[str, list[Path]] = {}
    for sub in _subfolders(folder):
        if _resolved(sub) in left_out or is_run_folder(sub):
            notes.append(f"{sub}: left out, it holds a catsort run (not photos to learn from)")
            continue
        skipped: list[Path] = []
        photos = _images_in(sub, left_out, skipped)
        notes += [
            f"{path}: left out, it holds a catsort run (not photos to learn from)"
            for path in skipped
        ]
        if photos:
            classes[sub.name] = photos
        elif skipped:
            notes.append(f"{sub}: left out, it holds only catsort runs")
        elif need_images:
            raise CatsortError(f"{sub}: class folder has no images; add photos or remove it")
    return classes


def _subfolders(folder: Path, exclude: Sequence[str] = ()) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_dir() and not path.name.startswith(".") and path.name not in exclude
    )


def _images_in(folder: Path, left_out: set[Path], skipped: list[Path]) -> list[Path]:
    """The photos under ``folder`` in sorted order, without catsort runs and hidden files."""
    photos = []
    for top, dirs, names in os.walk(folder):
        here = Path(top)
        kept = []
        for name in sorted(dirs):
            sub = here / name
            if name.startswith("."):
                continue
            if _resolved(sub) in left_out or is_run_folder(sub):
                skipped.append(sub)
            else:
                kept.append(name)
        dirs[:] = kept
        photos += [
            here / name
            for name in names
            if is_image_name(name) and not name.startswith(".") and (here / name).is_file()
        ]
    return sorted(photos)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _count_copies_once(found: list[_Found], notes: list[str]) -> None:
    """Drop files whose bytes an earlier file has; drop every copy of one filed in two classes.

    Files are compared by size first, so only files of equal size are read and hashed.
    """
    places = [
        (part, name, path)
        for f in found
        for part in (f.train, f.held_out, f.to_split)
        for name, paths in part.items()
        for path in paths
    ]
    by_size: dict[int, list[int]] = defaultdict(list)
    for number, (_, _, path) in enumerate(places):
        by_size[path.stat().st_size].append(number)
    by_content: dict[str, list[int]] = defaultdict(list)
    for numbers in by_size.values():
        if len(numbers) > 1:
            for number in numbers:
                by_content[_digest(places[number][2])].append(number)
    dropped: set[int] = set()
    copies = 0
    for numbers in by_content.values():
        if len(numbers) < 2:
            continue
        classes = sorted({places[n][1] for n in numbers})
        if len(classes) > 1:
            dropped.update(numbers)
            paths = " and ".join(str(places[n][2]) for n in numbers[:2])
            notes.append(f"{paths}: the same photo in class folders {', '.join(classes)}; left out")
        else:
            dropped.update(numbers[1:])
            copies += len(numbers) - 1
    if copies:
        notes.append(f"{copies} files are copies of others (the same bytes): each counted once")
    for number in sorted(dropped, reverse=True):
        part, name, path = places[number]
        part[name].remove(path)
        if not part[name]:
            del part[name]


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def photos_needed(val_split: float, test_fraction: float) -> int:
    """The fewest photos a class folder needs to give each split at least one, when split."""
    for count in range(2, 10_000):
        held = max(1, round(count * val_split))
        tested = round(held * test_fraction)
        if count - held >= 1 and tested >= 1 and held - tested >= 1:
            return count
    raise CatsortError(f"--val-split {val_split}: holds out too little to validate and test")


def _check_sizes(
    lists: FileLists, found: list[_Found], val_split: float, test_fraction: float
) -> None:
    """Name each class that one of the splits would miss, with how many photos it needs."""
    splits = (lists.train, lists.validation, lists.test)
    counts = [Counter(index for _, index in split) for split in splits]
    short = []
    for index, name in enumerate(lists.class_dirs):
        train, validation, test = (count[index] for count in counts)
        if train and validation and test:
            continue
        if any(name in f.to_split for f in found):
            need = f"at least {photos_needed(val_split, test_fraction)} photos"
        else:
            need = "at least 1 photo in train/ and 2 in validation/"
        short.append(
            f"{name} ({train + validation + test} photos: {train} to train, {validation} to "
            f"validate, {test} to test; it needs {need})"
        )
    if short:
        raise CatsortError(
            "too few photos to train, validate and test every class: "
            + "; ".join(short)
            + ". Add photos, or leave the class folder out"
        )


def class_weights(lists: FileLists) -> tuple[list[float] | None, str | None]:
    """Per-class weights for training when the classes are very unequal, and a line saying so.

    Each class's photos weigh total / (classes x its photos), so that every class counts the
    same in the loss; (None, None) when the largest class has fewer than ``UNEQUAL`` times the
    smallest one's photos.
    """
    counts = Counter(index for _, index in lists.train)
    sizes = [counts[i] for i in range(len(lists.class_dirs))]
    if min(sizes) * UNEQUAL > max(sizes):
        return None, None
    total = sum(sizes)
    weights = [total / (len(sizes) * size) for size in sizes]
    listed = ", ".join(f"{name} {size:,}" for name, size in zip(lists.class_dirs, sizes))
    return weights, (
        f"Unequal classes ({listed} training photos, {max(sizes) / min(sizes):.1f} to 1): "
        "each class's photos are weighted so that every class counts the same in training"
    )


def default_labels(class_dirs: list[str], mapping: dict[str, str] | None = None) -> tuple[str, ...]:
    """Turn folder names into labels: ``mapping`` first, else singular forms (cats -> cat)."""
    mapping = mapping or {}
    unknown = set(mapping) - set(class_dirs)
    if unknown:
        raise CatsortError(f"--labels names unknown class folders: {', '.join(sorted(unknown))}")
    names = list(class_dirs)
    if all(name.lower().endswith("s") and not name.lower().endswith("ss") for name in class_dirs):
        # Folders are usually plural ("cats"), but a label names one photo ("cat").
        names = [_singular(name) for name in class_dirs]
    labels = tuple(mapping.get(folder, label) for folder, label in zip(class_dirs, names))
    validate_labels(labels, "class folders")
    return labels


def fingerprint(files: list[tuple[Path, int]], roots: Path | Sequence[Path]) -> str:
    """Hash the relative paths, sizes and classes of a file list, to identify a data set.

    A path is taken relative to the first of ``roots`` that holds it, so a data set moved to
    another folder keeps its fingerprint.
    """
    # Absolute as list_files makes the paths: a relative root would hold none of them.
    roots = [r.absolute() for r in ([roots] if isinstance(roots, Path) else list(roots))]
    digest = hashlib.sha256()
    for path, index in sorted(files):
        root = next((r for r in roots if path.is_relative_to(r)), None)
        relative = path.relative_to(root) if root is not None else path
        digest.update(f"{relative.as_posix()}\t{path.stat().st_size}\t{index}\n".encode())
    return digest.hexdigest()[:16]
