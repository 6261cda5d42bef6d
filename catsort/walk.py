"""Finding the photos to classify: a streaming, sorted, loop-safe walk of files and folders."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from catsort.errors import CatsortError, os_reason
from catsort.images import is_photo_name
from catsort.skiplist import destination_reason, folder_reason, marker_reason
from catsort.video import is_video_name

#: Called with (path, reason) for something the walk had to pass over, e.g. an unreadable folder.
OnError = Callable[[Path, str], None]

#: The extension counted for a file that has none.
NO_EXTENSION = "(no extension)"


@dataclass
class WalkTally:
    """What a walk left alone: folders it did not enter and files that are not photos."""

    #: Folders not entered (an application's library, a NAS folder, a folder link, an
    #: --exclude), each with the reason, in the order met.
    not_entered: dict[Path, str] = field(default_factory=dict)
    #: Files that are not photos, by extension (lower case, with its dot): files left alone.
    not_photos: Counter = field(default_factory=Counter)
    #: Photos left out because they match an --exclude pattern.
    excluded: int = 0
    #: Links to photos that the walk finds under their own name too: left out, so that each
    #: photo is classified once (and a move of the photo does not turn the link into an error).
    duplicate_links: list[Path] = field(default_factory=list)


def exclude_spec(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec | None:
    """The --exclude patterns as one gitignore-style spec, or None when there are none."""
    if not patterns:
        return None
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def exclude_check(paths: Sequence[Path], exclude: Sequence[str]) -> Callable[[Path], bool] | None:
    """Whether a file matches --exclude, relative to the folder given that holds it."""
    spec = exclude_spec(exclude)
    if spec is None:
        return None
    roots = [os.path.abspath(folder) for folder in paths if os.path.isdir(folder)]

    def excluded(path: Path) -> bool:
        absolute = os.path.abspath(path)
        for root in roots:
            if absolute.startswith(root.rstrip(os.sep) + os.sep):
                return spec.match_file(os.path.relpath(absolute, root))
        return False

    return excluded


def check_inputs(paths: Sequence[Path]) -> None:
    """Raise CatsortError (exit 2) for the first path the user gave that does not exist."""
    for path in paths:
        # lexists: a broken symlink the user named is a bad file (an error row), not a typo.
        if not os.path.lexists(path):
            raise CatsortError(f"{path}: no such file or folder")


def find_images(
    paths: Sequence[Path],
    recursive: bool = True,
    skip_dirs: Collection[Path] = (),
    on_error: OnError | None = None,
    *,
    follow_links: bool = False,
    exclude: Sequence[str] = (),
    tally: WalkTally | None = None,
    moved: Callable[[Path], Path | None] | None = None,
    placed: Collection[tuple[int, int]] = (),
    videos: bool = False,
) -> Iterator[Path]:
    """Yield the candidate photo paths under ``paths`` in a stable order, one folder at a time.

    Files named explicitly are yielded as given, whatever their extension (a video's only with
    ``videos``); inside folders only image and RAW names are, and video names with ``videos``,
    sorted by name, hidden names skipped. Each folder is walked at most once, however many
    symlinks or arguments lead to it, and folders in ``skip_dirs`` are never entered. Nor are
    the folders of catsort.skiplist, folder links (unless ``follow_links``), and what matches
    an ``exclude`` pattern (gitignore-style, relative to the folder given); those and the files
    that are not photos are recorded in ``tally``. A link to a photo that ``moved`` says a
    catsort run moved (where it is now) is left out too, with the links to photos found under
    their own name: the photo is. Files ``placed`` by the run itself (their device and inode:
    photos sorted into a folder the walk has yet to reach) are not met again.
    """
    walker = _Walker(
        recursive, skip_dirs, on_error, follow_links, exclude_spec(exclude), tally, videos
    )
    walker.moved = moved
    walker.placed = placed
    walker.roots = [os.path.realpath(p) for p in paths if os.path.isdir(p)]
    explicit_files = [Path(p) for p in paths if not os.path.isdir(p)]
    walker.note_explicit(explicit_files)
    seen_explicit: set[tuple[int, int]] = set()
    for path in map(Path, paths):
        if os.path.isdir(path):
            yield from walker.walk(path)
            continue
        try:
            st = os.stat(path)
        except OSError:
            yield path  # missing, a broken link: the loader gives the reason
            continue
        if not stat.S_ISREG(st.st_mode):
            walker.report(path, "not a regular file, skipped")  # a FIFO would block forever
            continue
        if not videos and is_video_name(path):
            walker.count_other(path.name, "")  # a video named, but videos are left alone
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_explicit:
            continue  # the same file named twice
        seen_explicit.add(key)
        yield path


def _identity(path: os.PathLike | str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class _Walker:
    """State shared by the walks of all arguments: folders seen, folders to skip, explicit files."""

    def __init__(
        self,
        recursive: bool,
        skip_dirs: Collection[Path],
        on_error: OnError | None,
        follow_links: bool = False,
        exclude: pathspec.GitIgnoreSpec | None = None,
        tally: WalkTally | None = None,
        videos: bool = False,
    ):
        self.recursive = recursive
        self.videos = videos
        self.follow_links = follow_links
        self.exclude = exclude
        self.tally = tally if tally is not None else WalkTally()
        # Resolved when each folder is met, not by inode: a label folder that this very run
        # creates after the walk started must still be skipped.
        self.skip = {os.path.realpath(d) for d in skip_dirs}
        self.on_error = on_error
        self.seen_dirs: set[tuple[int, int]] = set()
        self.explicit: dict[int, set[int]] = {}
        self.roots: list[str] = []  # the folders given, resolved
        self.moved: Callable[[Path], Path | None] | None = None
        self.placed: Collection[tuple[int, int]] = ()

    def note_explicit(self, files: Sequence[Path]) -> None:
        """Remember files named on the command line so a folder walk does not yield them again."""
        for path in files:
            key = _identity(path)
            if key is not None:
                self.explicit.setdefault(key[1], set()).add(key[0])

    def is_input_name(self, name: str) -> bool:
        """Tell whether a file name is one the walk yields: a photo's, or a video's."""
        return is_photo_name(name) or (self.videos and is_video_name(name))

    def report(self, path: Path, reason: str) -> None:
        if self.on_error is not None:
            self.on_error(path, reason)

    def enter(self, real: str, st: os.stat_result) -> bool:
        """Tell whether to walk this folder, marking it as walked."""
        key = (st.st_dev, st.st_ino)
        if real in self.skip or key in self.seen_dirs:
            return False
        self.seen_dirs.add(key)
        return True

    def walk(self, root: Path) -> Iterator[Path]:
        try:
            st = os.stat(root)
        except OSError as exc:
            self.report(root, os_reason(exc))
            return
        real = os.path.realpath(root)
        if not self.enter(real, st):
            return
        # An explicit stack instead of recursion: no depth limit, and only the listings of the
        # folders on the current branch are held in memory.
        stack: list[tuple[Path, str, str, Iterator[os.DirEntry]]] = []
        listing = self.listing(root)
        if listing is not None:
            stack.append((root, real, "", iter(listing)))
        while stack:
            folder, folder_real, rel, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            kind, entry_stat = self.kind(entry, path)
            if kind == "dir":  # a folder, whatever its name (Photos/x.jpg/ too)
                if not self.recursive:
                    continue
                entry_rel = f"{rel}{entry.name}/"
                why = self.why_not_enter(entry, entry_rel)
                if why is not None:
                    self.tally.not_entered.setdefault(path, why)
                    continue
                real = (
                    os.path.realpath(path)
                    if entry.is_symlink()
                    else os.path.join(folder_real, entry.name)
                )
                if entry_stat is not None and self.enter(real, entry_stat):
                    listing = self.listing(path)
                    if listing is None:
                        continue
                    marker = marker_reason(e.name for e in listing) or destination_reason(listing)
                    if marker is not None:
                        self.tally.not_entered.setdefault(path, marker)
                        continue
                    stack.append((path, real, entry_rel, iter(listing)))
            elif kind == "file":
                if entry_stat is not None and (entry_stat.st_dev, entry_stat.st_ino) in self.placed:
                    continue  # this run put it here: classified, or a companion, already
                if not self.is_input_name(entry.name):
                    self.count_other(entry.name, rel)
                elif self.excluded(f"{rel}{entry.name}"):
                    self.tally.excluded += 1
                elif entry_stat is not None and entry.is_symlink() and self.walked_elsewhere(path):
                    self.tally.duplicate_links.append(path)
                elif entry_stat is None and entry.is_symlink() and self.moved_by_catsort(path):
                    self.tally.duplicate_links.append(path)  # its photo is found where it went
                elif not self.is_explicit(entry, entry_stat):
                    yield path
            elif kind == "special" and self.is_input_name(entry.name):
                # A FIFO or device named .jpg would block or never end when read.
                self.report(path, "not a regular file, skipped")

    def walked_elsewhere(self, link: Path) -> bool:
        """Whether the photo a file link leads to is one this walk yields under its own name."""
        target = os.path.realpath(link)
        for root in self.roots:
            if not target.startswith(root.rstrip(os.sep) + os.sep):
                continue
            parts = os.path.relpath(target, root).split(os.sep)
            folders, name = parts[:-1], parts[-1]
            if (
                self.is_input_name(name)
                and not any(part.startswith(".") for part in parts)
                and (self.recursive or not folders)
                and not any(folder_reason(folder) is not None for folder in folders)
                and not self.excluded("/".join(parts))
                and not any(target.startswith(skip.rstrip(os.sep) + os.sep) for skip in self.skip)
            ):
                return True
        return False

    def moved_by_catsort(self, link: Path) -> bool:
        """Whether a link that points to nothing leads where a photo was before a catsort run
        moved it (a move leaves links alone): no broken link of the user's, but catsort's."""
        return self.moved is not None and self.moved(link) is not None

    def why_not_enter(self, entry: os.DirEntry, rel: str) -> str | None:
        """Why a folder met in the walk is left alone (skip list, link, --exclude), or None."""
        reason = folder_reason(entry.name)
        if reason is not None:
            return reason
        if not self.follow_links and _is_link(entry):
            return "a link to a folder; --follow-links walks it"
        if self.exclude is not None:
            check = self.exclude.check_file(rel)
            if check.include and check.index is not None:
                pattern = self.exclude.patterns[check.index].pattern
                text = pattern.decode() if isinstance(pattern, bytes) else str(pattern)
                return f"--exclude {text}"
        return None

    def excluded(self, rel: str) -> bool:
        """Tell whether a file, by its path relative to the folder given, matches --exclude."""
        return self.exclude is not None and self.exclude.match_file(rel)

    def count_other(self, name: str, rel: str) -> None:
        """Count a file that is not a photo by its extension (unless --exclude leaves it out)."""
        if self.exclude is not None and self.exclude.match_file(f"{rel}{name}"):
            return
        ext = os.path.splitext(name)[1].lower()
        self.tally.not_photos[ext or NO_EXTENSION] += 1

    def listing(self, folder: Path) -> list[os.DirEntry] | None:
        """One folder's entries sorted by name, or None (reported) when it cannot be read."""
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.report(folder, f"cannot read folder ({os_reason(exc)})")
            return None

    def kind(self, entry: os.DirEntry, path: Path) -> tuple[str, os.stat_result | None]:
        """Classify an entry as "dir", "file" (incl. broken symlinks) or "special"."""
        try:
            st = entry.stat()  # follows symlinks
        except FileNotFoundError:
            return "file", None  # broken symlink: yielded so that it gets an error row
        except OSError as exc:
            if entry.is_symlink():
                return "file", None  # symlink loop (ELOOP) and the like: an error row too
            self.report(path, os_reason(exc))
            return "skip", None
        if stat.S_ISDIR(st.st_mode):
            return "dir", st
        if stat.S_ISREG(st.st_mode):
            return "file", st
        return "special", st

    def is_explicit(self, entry: os.DirEntry, st: os.stat_result | None) -> bool:
        if not self.explicit or st is None:
            return False
        return st.st_dev in self.explicit.get(st.st_ino, ())


def _is_link(entry: os.DirEntry) -> bool:
    """A symbolic link, or on Windows a junction (which Python 3.12 can tell apart)."""
    is_junction = getattr(entry, "is_junction", None)
    return entry.is_symlink() or (is_junction is not None and is_junction())
