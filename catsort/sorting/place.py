"""Putting photos in place: the one conflict resolver, and moves and copies that never overwrite.

Every move and copy of classify and undo goes through here. A target name that is taken becomes
``name (1).jpg``; an operation never replaces an existing file, even one created a moment ago;
and at every instant a moved file exists in at least one place, complete.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from catsort import files
from catsort.errors import DISK_ERRORS, FAILED, CatsortError, WriteFailed, os_reason
from catsort.types import COPY, MOVE

_COUNTER = re.compile(r"^(.+) \((\d+)\)$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Placement:
    """One planned file operation: move or copy ``source`` to ``target``."""

    source: Path
    target: Path
    action: str  # MOVE or COPY


class Journal(Protocol):
    """Where placements are recorded before they happen (catsort.sorting.journal.Journal)."""

    def begin_many(self, placements: Sequence[Placement], group: bool = False) -> None:
        """Record that these placements are about to happen (``group``: all of them or none)."""

    def done(self, placement: Placement) -> None:
        """Record that a placement happened."""

    def abort(self, placement: Placement) -> None:
        """Record that a placement failed and changed nothing."""

    def revert(self, placement: Placement) -> None:
        """Record that a placement done a moment ago was taken back (its group failed)."""


def unique_target(directory: Path, name: str, reserved: set[Path] | None = None) -> Path:
    """Return ``directory/name``, or the first free ``stem (n).ext`` when that is taken.

    Taken means present on disk (a broken symlink too) or in ``reserved``, the targets already
    planned in this run. A name that already ends in `` (n)`` counts on from n.
    """
    if not name or name in (".", "..") or "/" in name or (os.sep != "/" and os.sep in name):
        raise ValueError(f"not a plain file name: {name!r}")
    reserved = reserved if reserved is not None else set()
    directory = Path(directory)
    candidate = directory / name
    if not _taken(candidate, reserved):
        return candidate
    stem, counter, ext = split_name(name)
    while True:
        counter += 1
        candidate = directory / _numbered(stem, counter, ext)
        if not _taken(candidate, reserved):
            return candidate


def _numbered(stem: str, counter: int, ext: str) -> str:
    """``stem (counter).ext``, the stem shortened where the name would pass 255 bytes."""
    # 255 bytes is the longest name most file systems take; a photo whose name is that long
    # must still get a free name beside its namesake.
    room = 255 - len(os.fsencode(f" ({counter}){ext}"))
    while len(os.fsencode(stem)) > room and len(stem) > 1:
        stem = stem[:-1]
    return f"{stem} ({counter}){ext}"


def split_name(name: str) -> tuple[str, int, str]:
    """Split a file name into stem, `` (n)`` counter (0 when it has none) and extension."""
    stem, ext = os.path.splitext(name)
    match = _COUNTER.match(stem)
    if match:
        return match.group(1), int(match.group(2)), ext
    return stem, 0, ext


def _taken(path: Path, reserved: set[Path]) -> bool:
    return path in reserved or os.path.lexists(path)


def unique_names(
    directory: Path, names: Sequence[str], reserved: set[Path] | None = None
) -> list[Path]:
    """Free targets in ``directory`` for a photo (``names[0]``) and its companions, one stem.

    Each companion's name starts with the photo's stem (in any case). They keep their names when
    all are free; otherwise the first `` (n)`` stem free for every one of them is given to all:
    ``IMG (1).JPG``, ``IMG (1).CR2``, ``IMG (1).JPG.xmp``.
    """
    if len(names) == 1:
        return [unique_target(directory, names[0], reserved)]
    reserved = reserved if reserved is not None else set()
    directory = Path(directory)
    for name in names:
        unique_target(directory, name, {directory / name})  # checks it is a plain file name
    whole_stem = os.path.splitext(names[0])[0]
    suffixes = []
    for name in names:
        if name[: len(whole_stem)].lower() != whole_stem.lower():
            raise ValueError(f"{name!r} is no companion of {names[0]!r}")
        suffixes.append(name[len(whole_stem) :])
    candidates = [directory / name for name in names]
    stem, counter, _ = split_name(names[0])
    longest = max(suffixes, key=lambda suffix: len(os.fsencode(suffix)))
    while any(_taken(candidate, reserved) for candidate in candidates):
        counter += 1
        numbered = _numbered(stem, counter, longest)
        new_stem = numbered[: len(numbered) - len(longest)]
        candidates = [directory / (new_stem + suffix) for suffix in suffixes]
    return candidates


def plan_group(
    source: Path,
    companions: Sequence[Path],
    directory: Path,
    action: str,
    reserved: set[Path] | None = None,
) -> list[Placement]:
    """Plan a photo and its companions into ``directory`` under one free stem, reserving it.

    The photo's placement comes first. A photo already in ``directory`` stays where it is with
    its companions (each placement has target == source).
    """
    if not companions:
        return [plan(source, directory, action, reserved)]
    if action not in (MOVE, COPY):
        raise ValueError(f"unknown action {action!r}")
    members = [Path(source), *map(Path, companions)]
    if os.path.realpath(members[0].parent) == os.path.realpath(directory):
        return [Placement(member, member, action) for member in members]
    targets = unique_names(directory, [member.name for member in members], reserved)
    if reserved is not None:
        reserved.update(targets)
    return [Placement(member, target, action) for member, target in zip(members, targets)]


class GroupFailed(CatsortError):
    """A member of a photo's group could not be placed, so the whole group stayed put."""

    def __init__(self, member: Path, cause: CatsortError, split: list[str]) -> None:
        super().__init__(str(cause), FAILED, reason=cause.reason)
        self.member = member
        self.cause = cause  # why the member could not be placed
        self.split = split  # members that could not be taken back again (nearly always none)


def place_group(
    placements: Sequence[Placement],
    journal: Journal | None = None,
    dry_run: bool = False,
    inside: Sequence[Path] | None = None,
) -> list[Path]:
    """Carry out the placements of a photo and its companions: all of them, or none.

    They are recorded together first, the photo placed first. When a member cannot be placed,
    those already placed are taken back and GroupFailed says which member failed and why.
    With ``inside`` (the folders and files a run was given), a group with a member whose
    source, links resolved, lies outside all of them is refused before anything moves.

    A journal that cannot be written (WriteFailed) before anything moved raises as it is; one
    that fails once a member is placed has that member taken back with the rest (GroupFailed,
    its cause the WriteFailed): its "begin" lines are on the disk, so whatever a crash or a
    failed take-back left, the next run settles it from the disk.
    """
    if inside is not None:
        for placement in placements:
            if placement.action == MOVE and placement.source != placement.target:
                try:
                    check_inside(placement.source, inside)
                except CatsortError as exc:
                    raise GroupFailed(placement.source, exc, []) from None
    if dry_run:
        return [p.target for p in placements]
    todo = [p for p in placements if p.source != p.target]
    if not todo:
        return [p.target for p in placements]
    if journal is not None:
        journal.begin_many(todo, group=len(todo) > 1)
    missing = _missing_folders(todo[0].target.parent)
    done: list[Placement] = []
    recorded: list[Placement] = []  # done, and marked so in the journal
    for placement in todo:
        try:
            _carry_out(placement)
        except CatsortError as exc:
            failed, cause = placement, exc
            break
        done.append(placement)
        if journal is not None:
            try:
                journal.done(placement)
            except WriteFailed as exc:
                failed, cause = placement, exc
                break
        recorded.append(placement)
    else:
        return [p.target for p in placements]
    split = []
    for placement in reversed(done):
        try:
            _take_back(placement)
        except CatsortError as exc:
            split.append(str(exc))  # still "done" in the journal, so undo can put it back
            continue
        if journal is not None and placement in recorded:
            _record(journal.revert, placement)
    for folder in missing:  # made for this group, deepest first: not left behind empty
        try:
            os.rmdir(folder)
        except OSError:
            break
    # Marked last: until then a crash leaves this group to be settled by the next run.
    if journal is not None:
        for placement in todo:
            if placement not in done:
                _record(journal.abort, placement)
    raise GroupFailed(failed.source, cause, split)


def _record(mark: Callable[[Placement], None], placement: Placement) -> None:
    """Mark a placement taken back or aborted, where the journal can still be written; where it
    cannot, the placement stays "begin" (or "done") there, and the next run settles it from
    what is on the disk."""
    try:
        mark(placement)
    except WriteFailed:
        pass  # the journal keeps its failure; the run stops on it


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those above it that do not exist yet, deepest first."""
    missing = []
    while not os.path.lexists(folder) and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _carry_out(placement: Placement) -> None:
    (move_file if placement.action == MOVE else copy_file)(placement.source, placement.target)


def _take_back(placement: Placement) -> None:
    """Undo a placement made a moment ago: move the file back, or remove the copy."""
    if placement.action == MOVE:
        move_file(placement.target, placement.source)
        return
    try:
        os.unlink(placement.target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CatsortError(
            f"{placement.target}: cannot remove the copy again ({os_reason(exc)})", FAILED
        ) from None


def _failure(message: str, exc: OSError, reason: str) -> CatsortError:
    """The error of a move or copy that failed: WriteFailed where the disk takes no more writes
    (full, over quota, read-only: every photo after it would fail the same way, so the run
    stops), else the failure of this one photo."""
    if exc.errno in DISK_ERRORS:
        return WriteFailed(message, reason=reason)
    return CatsortError(message, FAILED, reason=reason)


def plan(
    source: Path, directory: Path, action: str, reserved: set[Path] | None = None
) -> Placement:
    """Plan moving or copying ``source`` into ``directory`` under a free name, reserving it.

    A file already in ``directory`` stays where it is: its placement has target == source.
    """
    if action not in (MOVE, COPY):
        raise ValueError(f"unknown action {action!r}")
    source = Path(source)
    if os.path.realpath(source.parent) == os.path.realpath(directory):
        return Placement(source, source, action)
    target = unique_target(directory, source.name, reserved)
    if reserved is not None:
        reserved.add(target)
    return Placement(source, target, action)


def place(
    placement: Placement,
    journal: Journal | None = None,
    dry_run: bool = False,
    inside: Sequence[Path] | None = None,
) -> Path:
    """Carry out a placement (recorded in ``journal`` first) unless ``dry_run``; return the target.

    With ``inside`` (the folders and files a run was given), a move whose source, links
    resolved, lies outside all of them is refused. Raises CatsortError (exit code 1) when the
    file could not be placed; nothing changed then.
    """
    if inside is not None and placement.action == MOVE and placement.source != placement.target:
        check_inside(placement.source, inside)
    result = place_all([placement], journal, dry_run)[0]
    if isinstance(result, CatsortError):
        raise result
    return result


def place_all(
    placements: Sequence[Placement], journal: Journal | None = None, dry_run: bool = False
) -> list[Path | CatsortError]:
    """Carry out a batch of placements, all recorded with one disk sync first.

    Returns, in order, each target or the CatsortError saying why that file stayed put.
    """
    if dry_run:
        return [p.target for p in placements]
    todo = [p for p in placements if p.source != p.target]
    if journal is not None and todo:
        journal.begin_many(todo)
    results: list[Path | CatsortError] = []
    for placement in placements:
        if placement.source == placement.target:
            results.append(placement.target)
            continue
        try:
            (move_file if placement.action == MOVE else copy_file)(
                placement.source, placement.target
            )
        except CatsortError as exc:
            if journal is not None:
                journal.abort(placement)
            results.append(exc)
            continue
        if journal is not None:
            journal.done(placement)
        results.append(placement.target)
    return results


def check_inside(source: Path, inside: Sequence[Path]) -> None:
    """Raise CatsortError unless ``source``, links resolved, is or lies in one of ``inside``."""
    # Checked on the resolved path just before the move: a folder link swapped in after the walk
    # must not carry the move out of the tree.
    real = os.path.realpath(source)
    for given in inside:
        root = os.path.realpath(given)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return
    raise CatsortError(
        f"{source}: lies outside the folders given (it is {real}), not moved",
        FAILED,
        reason="lies outside the folders given, not moved",
    )


def move_file(source: Path, target: Path) -> None:
    """Move a file to ``target`` without ever overwriting; across file systems copy, then remove.

    Raises CatsortError (exit code 1) and leaves the file where it was when it cannot be moved:
    WriteFailed where the disk takes no more writes.
    """
    source, target = Path(source), Path(target)
    _make_parent(target)
    try:
        files.rename_noreplace(source, target)
        return
    except FileExistsError:
        raise CatsortError(
            f"{target}: already exists, not overwritten ({source} not moved)",
            FAILED,
            reason="its new place is taken, not overwritten",
        ) from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            # A move changes both folders: the one it leaves is as often the read-only one.
            raise CatsortError(
                f"{source}: cannot move to {target} (permission denied: "
                f"{source.parent} and {target.parent} must both be writable)",
                FAILED,
                reason="cannot move (permission denied: its folder and the one it goes to "
                "must both be writable)",
            ) from None
        if exc.errno != errno.EXDEV:
            raise _failure(
                f"{source}: cannot move to {target} ({os_reason(exc)})",
                exc,
                f"cannot move ({os_reason(exc)})",
            ) from None
    _copy_into_place(source, target, "move")  # to another file system
    try:
        os.unlink(source)
    except OSError as exc:
        # Keep the file in exactly one place: take the copy away again.
        files.remove_quietly(target)
        raise _failure(
            f"{source}: cannot move to {target} ({os_reason(exc)})",
            exc,
            f"cannot move ({os_reason(exc)})",
        ) from None
    files.fsync_dir(source.parent)


def copy_file(source: Path, target: Path) -> None:
    """Copy a file with its modification time to ``target``, never overwriting anything."""
    source, target = Path(source), Path(target)
    _make_parent(target)
    _copy_into_place(source, target)


def same_content(a: Path, b: Path) -> bool:
    """Tell whether two paths are one file, or two regular files holding the same bytes."""
    try:
        # lstat, not stat: a symlink is no copy of the file it points to, and counting it as
        # one let undo delete the only copy of a photo.
        stat_a, stat_b = os.lstat(a), os.lstat(b)
        if os.path.samestat(stat_a, stat_b):
            return True
        if not (stat.S_ISREG(stat_a.st_mode) and stat.S_ISREG(stat_b.st_mode)):
            return False
        if stat_a.st_size != stat_b.st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                chunk = fa.read(_CHUNK)
                if chunk != fb.read(_CHUNK):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _failure(
            f"{target.parent}: cannot create folder ({os_reason(exc)})",
            exc,
            f"cannot create the folder it goes to ({os_reason(exc)})",
        ) from None


def _copy_into_place(source: Path, target: Path, verb: str = "copy") -> None:
    """Copy to a hidden temporary file beside ``target``, make it durable, then rename it in.

    The temporary file is removed whatever fails, so a half-written copy is never left.
    ``verb`` is what the caller does, as its errors say it: copy, or move (across file systems).
    """
    temp = files.temp_beside(target)
    try:
        with open(source, "rb") as src:
            expected = os.fstat(src.fileno()).st_size
            dst = files.open_for_writing(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                while chunk := src.read(_CHUNK):
                    files.write_all(dst, chunk)
                shutil.copystat(source, temp)  # mode and modification time
                files.sync(dst)
                written = os.fstat(dst).st_size
            finally:
                os.close(dst)
        if written != expected:
            raise CatsortError(
                f"{source}: copy to {target} incomplete ({written} of {expected} bytes)",
                FAILED,
                reason="copy incomplete (the photo changed while it was copied?)",
            )
        files.rename_noreplace(temp, target)
    except FileExistsError:
        files.remove_quietly(temp)
        raise CatsortError(
            f"{target}: already exists, not overwritten ({source} not {verb}d)",
            FAILED,
            reason="its new place is taken, not overwritten",
        ) from None
    except OSError as exc:
        files.remove_quietly(temp)
        raise _failure(
            f"{source}: cannot {verb} to {target} ({os_reason(exc)})",
            exc,
            f"cannot {verb} ({os_reason(exc)})",
        ) from None
    except BaseException:
        files.remove_quietly(temp)
        raise
    files.fsync_dir(target.parent)
