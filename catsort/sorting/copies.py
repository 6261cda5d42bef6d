"""Finding the copy an earlier --copy run made of a photo, so that copying again changes nothing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from catsort.sorting.companions import companion_targets
from catsort.sorting.place import same_content, split_name

# Per label folder: (stem, extension) -> {(counter, name)}, e.g. ("x", ".png") -> {(0, "x.png"),
# (1, "x (1).png")}.
_Groups = dict[tuple[str, str], set[tuple[int, str]]]


class EarlierCopies:
    """The names in each label folder, listed once a run and grouped by stem and extension.

    Finding a photo's earlier copy then looks at its own few candidate names, not at a listing of
    a folder of thousands of photos for every photo.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, _Groups] = {}

    def find(self, source: Path, folder: Path, companions: Sequence[Path] = ()) -> Path | None:
        """The copy an earlier run made of ``source`` in ``folder``, if it is there unchanged.

        It may have any of the names ``source`` could have been given, past gaps in the numbering
        too: the user may have deleted a copy in the middle, or undone the run that made it.
        With ``companions``, each must be copied beside it under the copy's stem: unchanged, but
        for XMP sidecars, which only need to be there (``--tag`` and photo managers write
        keywords into the copy's sidecar; a metadata edit is no new photo to copy again).
        """
        if os.path.realpath(source.parent) == os.path.realpath(folder):
            return None  # already in its folder, where plan() leaves it
        # A symlinked photo was copied from the file it names, so that is what a copy matches;
        # a symlink in the folder is no copy (same_content compares regular files only, sizes
        # first, so only a candidate of the same size is read).
        original = Path(os.path.realpath(source))
        for candidate in self._variants(folder, source.name):
            if same_content(original, candidate) and all(
                _same_companion(companion, copied)
                for companion, copied in zip(
                    companions, companion_targets(source, companions, candidate)
                )
            ):
                return candidate
        return None

    def add(self, path: Path) -> None:
        """Count a file this run put in its folder."""
        _group(self._groups(path.parent), path.name)

    def _variants(self, folder: Path, name: str) -> list[Path]:
        """``name`` and the `` (n)`` names unique_target moves on to, those in ``folder``."""
        stem, counter, ext = split_name(name)
        found = self._groups(folder).get((stem, ext), set())
        return [folder / other for n, other in sorted(found) if n >= counter]

    def _groups(self, folder: Path) -> _Groups:
        if folder not in self._folders:
            try:
                listing = os.listdir(folder)
            except OSError:
                listing = []  # not made yet; if it cannot be read, placing the photo says so
            self._folders[folder] = {}
            for name in listing:
                _group(self._folders[folder], name)
        return self._folders[folder]


def _group(groups: _Groups, name: str) -> None:
    stem, counter, ext = split_name(name)
    groups.setdefault((stem, ext), set()).add((counter, name))


def _same_companion(companion: Path, copied: Path) -> bool:
    """Tell whether ``copied`` is the copy of ``companion``: the same bytes, or for a sidecar,
    one in its place (catsort --tag or a photo manager may have written into it since)."""
    if companion.name.lower().endswith(".xmp"):
        return os.path.isfile(copied) and not os.path.islink(copied)
    return same_content(companion, copied)
