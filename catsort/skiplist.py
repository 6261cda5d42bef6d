"""Folders a walk never enters: applications' libraries, NAS metadata, trash; each with its reason.

This is the one list. A folder is left alone when its name matches a ``FOLDERS`` pattern, or when
it holds a file whose name matches a ``MARKERS`` pattern. Names are compared without regard to
case (macOS and Windows file systems ignore it; a NAS shares to both).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

APP_LIBRARY = "an application's library"
LIGHTROOM = "Lightroom's previews and catalog data"
CAPTURE_ONE = "Capture One's previews and settings"
NAS = "a NAS's thumbnails and metadata"
RECYCLE = "a recycle bin or trash"
SNAPSHOT = "a file system snapshot"
SYSTEM = "a system folder"
NOMEDIA = "a folder with a .nomedia file, Android's mark for no photos"
DESTINATION = "another catsort run's destination, with its .catsort journals"

#: The folder where a sorting run keeps its journals, lock and cache (``<dest>/.catsort``). A
#: folder below the one given that holds one is another run's destination: never walked, so its
#: sorted photos (copies, perhaps) are not sorted again, nor counted twice.
JOURNAL_DIR = ".catsort"


@dataclass(frozen=True)
class Rule:
    """A name pattern (shell-style, any case) and the reason shown for what it matches."""

    pattern: str
    reason: str


#: Folder names never entered. Moving a photo out of one of these breaks the application that
#: tracks it by path (Photos, Lightroom, Capture One), or sorts thumbnails and deleted files.
#: The walk skips hidden folders anyway; the hidden names here are for folders given on the
#: command line (``catsort classify ~/.Trash --move`` is refused).
FOLDERS: tuple[Rule, ...] = (
    # macOS bundles: Photos, iPhoto, Aperture, and the libraries Photos leaves after migrating.
    Rule("*.photoslibrary", APP_LIBRARY),
    Rule("*.photolibrary", APP_LIBRARY),
    Rule("iPhoto Library", APP_LIBRARY),
    Rule("*.aplibrary", APP_LIBRARY),
    Rule("*.migratedphotolibrary", APP_LIBRARY),
    Rule("*.migratedaplibrary", APP_LIBRARY),
    Rule("*.lrlibrary", APP_LIBRARY),  # Lightroom (cloud) desktop: holds the originals
    Rule("*.cocatalog", APP_LIBRARY),  # Capture One catalog (a bundle on macOS)
    # Lightroom Classic: "<catalog> Previews.lrdata", "Smart Previews.lrdata", ".lrcat-data".
    Rule("*.lrdata", LIGHTROOM),
    Rule("*.lrcat-data", LIGHTROOM),
    # Capture One sessions keep CaptureOne/Cache (previews) and CaptureOne/Settings* beside
    # the photos of every folder it has shown.
    Rule("CaptureOne", CAPTURE_ONE),
    # Synology (@eaDir: thumbnails per photo, e.g. @eaDir/IMG_0004.JPG/SYNOPHOTO_THUMB_XL.jpg),
    # QNAP (.@__thumb), their recycle bins and snapshots.
    Rule("@eaDir", NAS),
    Rule(".@__thumb", NAS),
    Rule("@__thumb", NAS),
    Rule("#recycle", RECYCLE),
    Rule("@Recycle", RECYCLE),
    Rule("#snapshot", SNAPSHOT),
    Rule("@Recently-Snapshot", SNAPSHOT),
    # Windows, macOS and Linux (freedesktop.org) trash; Windows and Unix system folders.
    Rule("$RECYCLE.BIN", RECYCLE),
    Rule("RECYCLER", RECYCLE),
    Rule(".Trash", RECYCLE),
    Rule(".Trashes", RECYCLE),
    Rule(".Trash-*", RECYCLE),
    Rule("System Volume Information", SYSTEM),
    Rule("lost+found", SYSTEM),
)

#: A folder holding a file with one of these names is never entered, nor anything under it.
MARKERS: tuple[Rule, ...] = (
    Rule(".nomedia", NOMEDIA),
    Rule("*.cocatalogdb", APP_LIBRARY),  # a Capture One catalog folder on Windows
)


def _compile(rules: Iterable[Rule]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(fnmatch.translate(rule.pattern.lower())), rule.reason) for rule in rules]


_FOLDERS = _compile(FOLDERS)
_MARKERS = _compile(MARKERS)


def folder_reason(name: str) -> str | None:
    """Why a folder with this name is never entered, or None when it may be."""
    return _first(_FOLDERS, name)


def marker_reason(names: Iterable[str]) -> str | None:
    """Why a folder holding files with these names is never entered, or None when it may be."""
    for name in names:
        reason = _first(_MARKERS, name)
        if reason is not None:
            return reason
    return None


def destination_reason(entries: Iterable[os.DirEntry]) -> str | None:
    """Why a folder holding these entries is never walked: it holds a sorting run's
    ``.catsort`` folder, so it is that run's destination; None when it does not."""
    for entry in entries:
        if entry.name == JOURNAL_DIR and entry.is_dir(follow_symlinks=False):
            return DESTINATION
    return None


def _first(rules: list[tuple[re.Pattern[str], str]], name: str) -> str | None:
    lowered = name.lower()
    for pattern, reason in rules:
        if pattern.match(lowered):
            return reason
    return None


def library_around(path: Path) -> tuple[Path, str] | None:
    """The never-entered folder that ``path`` is, or lies inside, with the reason; else None.

    The path is resolved first, so a link into a library counts as the library. Only the folder
    itself (or a file's own folder) is checked for marker files: looking in every folder above
    it would read the whole way up to the root.
    """
    real = Path(os.path.realpath(path))
    for folder in (real, *real.parents):
        if folder.name:
            reason = folder_reason(folder.name)
            if reason is not None:
                return folder, reason
    folder = real if os.path.isdir(real) else real.parent
    try:
        names = os.listdir(folder)
    except OSError:
        return None  # an unreadable folder is reported by the walk itself
    reason = marker_reason(names)
    return (folder, reason) if reason is not None else None
