"""Putting files back: settling operations a crash interrupted, and reversing finished ones.

The journal (catsort.sorting.journal) decides which operations to look at; these helpers look at the
disk and act on one operation each, never overwriting anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catsort.errors import CatsortError
from catsort.files import TEMP_PREFIX
from catsort.sorting.place import COPY, MOVE, copy_file, move_file, same_content


@dataclass
class Entry:
    """One operation read back from a journal, with its latest state."""

    n: int
    op: str
    source: Path
    target: Path
    state: str
    group: int | None = None  # the first operation of its photo's group (None: on its own)


@dataclass
class UndoResult:
    """What an undo did: files put back, copies removed, why any file was left alone (skipped),
    harmless findings such as a file already back in place (notes), and what it could not
    record (failed: its journal on a full disk)."""

    restored: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    already_undone: bool = False
    sidecars: list[Path] = field(default_factory=list)  # put back as they were, or removed
    journal: Path | None = None  # the journal undone
    # What could not be written (the journal itself, on a full disk): one line each.
    failed: list[str] = field(default_factory=list)


_PAST = {MOVE: "moved", COPY: "copied"}


def undo_move(entry: Entry, result: UndoResult) -> bool:
    """Move one moved file back unless its old place is taken again; return whether it is back."""
    source, target = entry.source, entry.target
    if not os.path.lexists(target):
        if os.path.lexists(source):
            result.notes.append(f"{source}: already back in place")
            return True
        result.skipped.append(f"{target}: missing, cannot put back {source}")
        return False
    if os.path.lexists(source):
        if not same_content(source, target):
            result.skipped.append(f"{target}: not moved back, {source} is taken again")
            return False
        # The same bytes are back already (an undo interrupted half-way): drop the extra.
        if not _remove(target, result):
            return False
        result.restored.append(source)
        return True
    try:
        move_file(target, source)
    except CatsortError as exc:
        result.skipped.append(str(exc))
        return False
    result.restored.append(source)
    return True


def undo_copy(
    entry: Entry, result: UndoResult, find: Callable[[Path], Path | None] | None = None
) -> bool:
    """Remove a copy made by --copy while it matches its original; return whether it is gone.

    ``find`` says where an original that catsort moved since is now (a --move run of the
    library, or the undo of one): the copy goes where it matches the original there.
    """
    source, target = entry.source, entry.target
    if not os.path.lexists(target):
        result.notes.append(f"{target}: copy already removed")
        return True
    if not os.path.exists(source) and find is not None:
        source = find(source) or source
    if not os.path.exists(source):  # gone, or a link to nothing
        result.skipped.append(f"{target}: kept, its original {source} is gone")
    elif os.path.samefile(source, target):
        result.skipped.append(f"{target}: kept, its original {source} is now a link to it")
    elif not same_content(_followed(source), target):
        result.skipped.append(f"{target}: kept, it differs from {source} now")
    elif _remove(target, result):
        result.removed.append(target)
        return True
    return False


def _followed(path: Path) -> Path:
    """The file a path leads to: for a symlinked photo, the file it names (what was copied)."""
    return Path(os.path.realpath(path))


def _remove(path: Path, result: UndoResult) -> bool:
    try:
        os.unlink(path)
    except OSError as exc:
        result.skipped.append(f"{path}: cannot remove ({exc.strerror})")
        return False
    return True


def settle_entry(entry: Entry) -> tuple[str, str]:
    """Decide from what is on disk whether a begun operation happened; finish a half-done move."""
    source, target = entry.source, entry.target
    has_source, has_target = os.path.lexists(source), os.path.lexists(target)
    if has_source and has_target:
        if not same_content(_followed(source), target):
            return "aborted", f"{source}: left in place, {target} is another file"
        if entry.op == COPY:
            return "done", f"{source}: copy to {target} was complete"
        # Interrupted after the file was in its new place (linked or copied): drop the old name.
        os.unlink(source)
        return "done", f"{source}: finished moving to {target}"
    if has_target:
        return "done", f"{source}: was {_PAST[entry.op]} to {target} before the interruption"
    if has_source:
        return "aborted", f"{source}: interrupted before it was {_PAST[entry.op]}, left in place"
    return "aborted", f"{source}: missing, and not found at {target} either"


def temp_files(folder: Path) -> list[Path]:
    """The partial copies (hidden temporary files) that sort left in a folder."""
    try:
        return [folder / name for name in os.listdir(folder) if name.startswith(TEMP_PREFIX)]
    except OSError:
        return []


def settle_group(members: Sequence[Entry], mark: Callable[[Entry, str], None]) -> list[str]:
    """Bring together a photo's group that a crash interrupted: finish it, or take it back.

    ``members`` are settled one by one already (none is still "begin"); ``mark`` records a new
    state durably. Members about to be placed are marked "begin" again first, so that a crash in
    here leaves the group to be settled next time.
    """
    photo = members[0]
    if any(entry.state == "begin" for entry in members):
        return [f"{photo.source}: its group could not be settled, tried again next time"]
    placed: list[Entry] = []
    for entry in members:
        if entry.state != "done":
            continue
        if not os.path.lexists(entry.target) and os.path.lexists(entry.source):
            mark(entry, "reverted")  # taken back before the crash, not yet recorded
            continue
        placed.append(entry)
    left = [entry for entry in members if entry not in placed]
    past = _PAST[photo.op]
    others = len(members) - 1
    if not placed:
        return [f"{photo.source}: interrupted before it was {past}, left in place with its group"]
    if not left:
        return [f"{photo.source}: was {past} with its {others} companions before the interruption"]
    for entry in left:
        mark(entry, "begin")
    finished: list[Entry] = []
    try:
        for entry in left:
            (move_file if entry.op == MOVE else copy_file)(entry.source, entry.target)
            finished.append(entry)
    except CatsortError as exc:
        problem = str(exc)
    else:
        for entry in finished:
            mark(entry, "done")
        return [
            f"{photo.source}: finished the interrupted {photo.op} of its group "
            f"({len(finished)} of {len(members)} files) to {photo.target.parent}"
        ]
    # It cannot be finished: take the whole group back to where it was.
    kept = []
    for entry in reversed(placed + finished):
        try:
            if entry.op == MOVE:
                move_file(entry.target, entry.source)
            else:
                os.unlink(entry.target)
        except (CatsortError, OSError) as exc:
            kept.append(f"{entry.target} ({exc})")
            if entry in finished:
                mark(entry, "done")
            continue
        mark(entry, "reverted" if entry in placed else "aborted")
    for entry in left:
        if entry not in finished:
            mark(entry, "aborted")
    message = f"{photo.source}: its interrupted group could not be finished ({problem}); "
    if kept:
        return [message + "and these could not be taken back: " + ", ".join(kept)]
    return [message + "put back where it was"]
