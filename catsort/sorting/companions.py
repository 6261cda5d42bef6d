"""Companion files: the sidecars, edits, motion videos and RAW files that travel with a photo.

A companion lies in its photo's folder and is named either with the photo's stem and another
extension (``IMG_0001.xmp``, ``IMG_0001.MOV``, ``IMG_0001.CR2``) or with the photo's whole name
and one more (``IMG_0001.JPG.xmp``, ``IMG_0001.JPG.json``, Google Takeout's
``IMG_0001.JPG.supplemental-metadata.json`` and its shortened forms); case does not matter.
The whole-name sidecars of a RAW companion or motion video (``IMG_0001.CR2.xmp``) go too.

Where two photos share a stem (``IMG.JPG`` and ``IMG.PNG``), a stem companion (``IMG.xmp``)
cannot be told to belong to either one and goes with neither: it stays where it is. Whole-name
companions (``IMG.JPG.xmp``) still go with their own photo. A RAW file is the companion of the
one JPEG or HEIC with its stem; beside two of them (``IMG.JPG`` and ``IMG.HEIC``), or none, it is
a photo of its own. So is a video: a Live Photo's ``.MOV`` goes with the one JPEG or HEIC with
its stem, and beside two photos sharing its stem, or none, it is a video of its own, classified
from its frames when a run reads videos (``videos=True``), with its own sidecars
(``VID.mp4.xmp``, ``VID.xmp``).
"""

from __future__ import annotations

import os
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from catsort.images import is_image_name
from catsort.video import is_video_name

#: Files holding a photo's metadata or edits: XMP sidecars, Apple's edits, Google Takeout's
#: metadata, DxO PhotoLab, RawTherapee, the thumbnails some cameras write beside a video or RAW.
SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae", ".json", ".dop", ".pp3", ".thm"})
#: The Live Photo or motion-photo video a phone writes beside its HEIC or JPEG.
MOTION_EXTENSIONS = frozenset({".mov", ".mp4"})
#: Camera RAW files: beside their JPEG or HEIC they go with it; on their own they are photos.
RAW_EXTENSIONS = frozenset(
    {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw"}
)
#: The photos a RAW file or a motion video can belong to: what a camera or phone writes with it.
PAIRED_EXTENSIONS = frozenset({".jpg", ".jpeg", ".heic", ".heif"})

# Google Takeout names a photo's metadata IMG.JPG.supplemental-metadata.json, cutting the middle
# word short (IMG.JPG.supplemental-metad.json, IMG.JPG.suppl.json) where the name grows long.
_TAKEOUT = "supplemental-metadata"


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]


def is_raw_name(path: str | os.PathLike) -> bool:
    """Tell whether a file name is a camera RAW file's."""
    return _ext(os.fspath(path)) in RAW_EXTENSIONS


def _is_photo(name: str) -> bool:
    return is_image_name(name) or _ext(name) in RAW_EXTENSIONS


def _whole_name_base(name: str) -> str | None:
    """For a sidecar named after a whole file name, that name in lower case (else None)."""
    if _ext(name) not in SIDECAR_EXTENSIONS:
        return None
    base = _stem(name)
    if _ext(name) == ".json":
        # IMG.JPG.supplemental-metadata.json belongs to IMG.JPG
        head, dot, word = base.rpartition(".")
        if dot and word and _TAKEOUT.startswith(word.lower()) and "." in head:
            return head.lower()
    return base.lower()


def folder_groups(names: Iterable[str], videos: bool = False) -> dict[str, tuple[str, ...]]:
    """Each photo's companions among the file names of one folder: {photo: companion names}.

    Every photo of the folder is a key (most with no companions); a RAW file that goes with its
    JPEG is not, nor a Live Photo's video. With ``videos``, each other video is a key too, with
    its own sidecars. A name is the companion of at most one photo or video.
    """
    names = sorted(set(names))
    by_stem: dict[str, list[str]] = {}
    by_whole_name: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(_stem(name).lower(), []).append(name)
        base = _whole_name_base(name)
        if base is not None:
            by_whole_name.setdefault(base, []).append(name)
    photos = [name for name in names if _is_photo(name)]
    paired: dict[str, str] = {}  # RAW file -> the JPEG or HEIC it goes with
    for name in photos:
        if _ext(name) in RAW_EXTENSIONS:
            partners = [
                other
                for other in by_stem[_stem(name).lower()]
                if _ext(other) in PAIRED_EXTENSIONS and is_image_name(other)
            ]
            if len(partners) == 1:
                paired[name] = partners[0]
    primary = [name for name in photos if name not in paired]
    photo_stems = Counter(_stem(name).lower() for name in primary)
    motion: dict[str, str] = {}  # Live Photo or motion video -> the JPEG or HEIC it goes with
    for photo in primary:
        stem = _stem(photo).lower()
        if _ext(photo) in PAIRED_EXTENSIONS and photo_stems[stem] == 1:
            for name in by_stem[stem]:
                if _ext(name) in MOTION_EXTENSIONS:
                    motion[name] = photo
    own_videos = [n for n in names if videos and is_video_name(n) and n not in motion]
    primary += own_videos
    # A stem sidecar (IMG.xmp) beside two photos or videos sharing its stem is nobody's.
    stems = Counter(_stem(name).lower() for name in primary)
    groups: dict[str, list[str]] = {name: [] for name in primary}
    claimed = set(photos) | set(own_videos)

    def claim(photo: str, name: str) -> None:
        if name not in claimed:
            claimed.add(name)
            groups[photo].append(name)

    for raw, photo in paired.items():
        groups[photo].append(raw)
    for video, photo in motion.items():
        claim(photo, video)
    for photo in primary:
        for name in by_whole_name.get(photo.lower(), ()):
            claim(photo, name)
    for photo in primary:
        stem = _stem(photo).lower()
        if stems[stem] != 1:
            continue  # IMG.JPG and IMG.PNG: IMG.xmp cannot be told to belong to either
        for name in by_stem[stem]:
            if _ext(name) in SIDECAR_EXTENSIONS:
                claim(photo, name)
    for photo in primary:
        for member in list(groups[photo]):
            if _ext(member) in RAW_EXTENSIONS | MOTION_EXTENSIONS:
                for name in by_whole_name.get(member.lower(), ()):
                    claim(photo, name)
    return {photo: tuple(sorted(members)) for photo, members in groups.items()}


class CompanionFinder:
    """Looks up a photo's companions, listing each folder once (the few most recent are kept)."""

    def __init__(
        self,
        keep: int = 1024,
        ignore: Callable[[Path], bool] | None = None,
        videos: bool = False,
    ) -> None:
        self._keep = keep
        self._ignore = ignore  # files left out of the run (--exclude): nobody's companions
        self._videos = videos  # videos of their own are inputs, with companions of their own
        # folder -> ({photo: its companions}, every companion's name)
        self._folders: OrderedDict[Path, tuple[dict[str, tuple[str, ...]], set[str]]] = (
            OrderedDict()
        )

    def of(self, photo: Path) -> tuple[Path, ...]:
        """The companions of ``photo`` in its folder, sorted by name; none for a lone photo."""
        photo = Path(photo)
        groups, _ = self._listed(photo.parent)
        return tuple(photo.parent / name for name in groups.get(photo.name, ()))

    def is_paired_raw(self, path: Path) -> bool:
        """Tell whether ``path`` is a RAW file that goes with its JPEG or HEIC (not an input)."""
        return is_raw_name(path) and self.goes_with_a_photo(path)

    def goes_with_a_photo(self, path: Path) -> bool:
        """Tell whether ``path`` is another file's companion: a RAW file beside its JPEG, a
        Live Photo's video, a sidecar (so not an input of its own)."""
        path = Path(path)
        return path.name in self._listed(path.parent)[1]

    def forget(self, folder: Path) -> None:
        """Drop what is known of a folder (its files changed)."""
        self._folders.pop(Path(folder), None)

    def _listed(self, folder: Path) -> tuple[dict[str, tuple[str, ...]], set[str]]:
        folder = Path(folder)
        if folder in self._folders:
            self._folders.move_to_end(folder)
            return self._folders[folder]
        names = _file_names(folder)
        if self._ignore is not None:
            names = [name for name in names if not self._ignore(folder / name)]
        groups = folder_groups(names, self._videos)
        listed = (groups, {name for members in groups.values() for name in members})
        self._folders[folder] = listed
        while len(self._folders) > self._keep:
            self._folders.popitem(last=False)
        return listed


def _file_names(folder: Path) -> list[str]:
    """The plain, visible files of a folder (links and hidden files are nobody's companions)."""
    try:
        with os.scandir(folder) as entries:
            return [
                entry.name
                for entry in entries
                if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False)
            ]
    except OSError:
        return []  # the photo's own move will say what is wrong with the folder


def companion_targets(photo: Path, companions: Sequence[Path], target: Path) -> list[Path]:
    """Where a photo's companions go beside its ``target``: their own names, or under its new
    stem when the photo was renamed (``IMG (1).JPG``: ``IMG (1).CR2``, ``IMG (1).JPG.xmp``)."""
    if target.name == photo.name:
        return [target.parent / companion.name for companion in companions]
    stem, new_stem = _stem(photo.name), _stem(target.name)
    return [target.parent / (new_stem + c.name[len(stem) :]) for c in companions]


def without_companions(
    paths: Iterable[Path], finder: CompanionFinder, explicit: Sequence[Path] = ()
) -> Iterator[Path]:
    """The inputs of a run less the RAW files that go with a JPEG or HEIC (they go with it),
    and the Live Photo videos that go with theirs.

    A RAW file or video named on the command line is classified whatever lies beside it.
    """
    named = {os.path.abspath(p) for p in explicit}
    for path in paths:
        if (
            (is_raw_name(path) or is_video_name(path))
            and os.path.abspath(path) not in named
            and finder.goes_with_a_photo(Path(path))
        ):
            continue
        yield path
