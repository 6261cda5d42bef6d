"""Sidecars on disk: which file is a photo's, writing it atomically and journaled, and putting
the earlier one back on undo (catsort.tagging.tagger decides what goes into it).

A sidecar is written as a temporary file in its own folder, synced, then renamed over the old
one (or, for a new one, renamed into a free name only). Before that, the journal records the
sidecar and a copy of its earlier bytes (in ``.catsort/sidecars/`` beside the journal), so that
undo restores them byte for byte, or removes a sidecar catsort created.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from catsort import files
from catsort.errors import (
    DISK_ERRORS,
    FAILED,
    CatsortError,
    SettingsError,
    WriteFailed,
    os_reason,
)
from catsort.sorting.journal import register_kind
from catsort.sorting.restore import UndoResult

#: --sidecar: an existing sidecar's name, else IMG.xmp; IMG.xmp (Adobe); IMG.JPG.xmp (darktable).
AUTO = "auto"
XMP = "xmp"
EXT_XMP = "ext.xmp"
NAMINGS = (AUTO, XMP, EXT_XMP)

#: The journal records' "op": a sidecar written.
OP = "sidecar"
_BACKUPS = "sidecars"
#: A sidecar bigger than this is not one (Lightroom's run to tens of KB): left untouched.
MAX_BYTES = 16 << 20


class Journal(Protocol):
    """What tagging needs of a run's journal (catsort.sorting.journal.Journal)."""

    path: Path
    completed: int
    records: list[dict]

    def number(self) -> int:
        """A new operation number."""

    def append(self, record: dict, sync: bool = False) -> None:
        """Write a record of another kind than move and copy."""

    def relative(self, path: Path) -> str:
        """A path as the journal records it."""

    def resolve(self, recorded: str) -> Path:
        """A recorded path as it is now."""


@dataclass(frozen=True)
class TagSettings:
    """How --tag writes: the parent of the hierarchical keyword, and how sidecars are named."""

    prefix: str = "Animals"
    naming: str = AUTO

    def __post_init__(self) -> None:
        if self.naming not in NAMINGS:
            raise SettingsError(
                "{naming:{value}}: choose one of {choices}",
                value=self.naming,
                choices=", ".join(NAMINGS),
            )
        if any(ord(char) < 32 for char in self.prefix):
            raise SettingsError("{prefix}: no control characters (tabs, newlines) please")


class SidecarNames:
    """Finds the sidecars photos already have, listing each folder once for a whole run.

    Names in the usual letter cases are looked up directly, so they are found even when they
    arrived during the run (moved in with their photo); other cases come from the folder's
    listing, taken the first time it is needed: listing a folder of 10,000 photos for each of
    them would cost minutes.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, dict[str, str]] = {}  # folder -> lower-cased name -> name

    def find(self, photo: Path) -> Path | None:
        """An existing sidecar of ``photo``: ``IMG.xmp`` or ``IMG.JPG.xmp``, in any letter case."""
        candidates = (_adobe(photo), _darktable(photo))
        for candidate in candidates:
            stem = candidate.name[: -len(".xmp")]
            for name in (candidate.name, stem + ".XMP"):
                if name != photo.name and os.path.lexists(photo.parent / name):
                    return photo.parent / name
        names = self._folders.get(photo.parent)
        if names is None:
            names = self._folders[photo.parent] = _listing(photo.parent)
        for candidate in candidates:
            found = names.get(candidate.name.lower())
            if found is not None and found != photo.name and os.path.lexists(photo.parent / found):
                return photo.parent / found
        return None


def _listing(folder: Path) -> dict[str, str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    by_lower: dict[str, str] = {}
    for name in sorted(names):
        by_lower.setdefault(name.lower(), name)
    return by_lower


def sidecar_path(
    photo: Path,
    naming: str = AUTO,
    origin: Path | None = None,
    names: SidecarNames | None = None,
) -> Path:
    """The sidecar ``photo`` gets: per ``naming``, or for ``auto`` the name of one it has.

    ``origin`` is where the photo is now when ``photo`` is where it will be (a dry run): its
    sidecar there decides the naming. ``names`` caches folder listings over a run.
    """
    photo = Path(photo)
    if naming == XMP:
        return _adobe(photo)
    if naming == EXT_XMP:
        return _darktable(photo)
    if naming != AUTO:
        raise ValueError(f"unknown sidecar naming {naming!r}")
    existing = (names or SidecarNames()).find(photo if origin is None else Path(origin))
    if existing is None:
        return _adobe(photo)
    if origin is None:
        return existing
    darktable = existing.name.lower() == _darktable(Path(origin)).name.lower()
    return _darktable(photo) if darktable else _adobe(photo)


def find_sidecar(photo: Path) -> Path | None:
    """An existing sidecar of ``photo``: ``IMG.xmp`` or ``IMG.JPG.xmp``, in any letter case."""
    return SidecarNames().find(Path(photo))


def _adobe(photo: Path) -> Path:
    return photo.with_name(os.path.splitext(photo.name)[0] + ".xmp")


def _darktable(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def read_sidecar(path: Path) -> bytes | None:
    """A sidecar's bytes, or None when there is none; CatsortError when it cannot be used."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if stat.S_ISLNK(info.st_mode):
        raise CatsortError(
            f"{path}: sidecar is a symbolic link; left untouched",
            FAILED,
            reason="its sidecar is a symbolic link; left untouched",
        )
    if not stat.S_ISREG(info.st_mode):
        raise CatsortError(
            f"{path}: sidecar is not a regular file; left untouched",
            FAILED,
            reason="its sidecar is not a regular file; left untouched",
        )
    if info.st_size > MAX_BYTES:
        too_big = f"not valid XMP (larger than {MAX_BYTES >> 20} MiB); left untouched"
        raise CatsortError(f"{path}: {too_big}", FAILED, reason=f"its sidecar is {too_big}")
    try:
        with open(path, "rb") as file:
            return file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: OSError) -> CatsortError:
    return CatsortError(
        f"{path}: cannot read sidecar ({os_reason(exc)})",
        FAILED,
        reason=f"cannot read its sidecar ({os_reason(exc)})",
    )


def _unwritable(message: str, exc: OSError, reason: str) -> CatsortError:
    """A sidecar (or its copy for undo) that cannot be written: WriteFailed where the disk
    takes no more writes (the run stops there), else this photo's failure."""
    if exc.errno in DISK_ERRORS:
        return WriteFailed(message, reason=reason)
    return CatsortError(message, FAILED, reason=reason)


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def write_sidecar(path: Path, data: bytes, before: bytes | None, journal: Journal | None) -> None:
    """Put a sidecar's new bytes in place of ``before`` (None: there was none), atomically,
    journaled first with a copy of the earlier bytes, so that undo puts them back."""
    if journal is None:
        _replace(path, data, before)
        return
    n = journal.number()
    backup = None
    mtime_ns = None
    if before is not None:
        backup = journal.path.parent / _BACKUPS / journal.path.stem / f"{n}.xmp"
        _save_backup(backup, before)
        # Undo puts the time back too: Lightroom and darktable read a newer sidecar as an edit.
        mtime_ns = _mtime_ns(path)
    try:
        journal.append(
            {
                "n": n,
                "op": OP,
                "sidecar": journal.relative(path),
                "backup": None if backup is None else journal.relative(backup),
                "before": _digest(before),
                "after": _digest(data),
                "mtime_ns": mtime_ns,
                "state": "begin",
            },
            sync=True,
        )
        _replace(path, data, before)
    except BaseException:
        try:
            journal.append({"n": n, "op": OP, "state": "aborted"})
        except WriteFailed:
            pass  # "begin" stays: undo compares the sidecar with its digests and finds it as it was
        finally:
            if backup is not None:
                files.remove_quietly(backup)
        raise
    # A journal that cannot say "done" raises here: the sidecar is written, and undo, which
    # compares it with the digests recorded before, still puts the earlier one back.
    journal.append({"n": n, "op": OP, "state": "done"})
    journal.completed += 1


def put_back(path: Path, earlier: bytes | None, written: bytes, journal: Journal | None) -> None:
    """Put a sidecar back as it was (``earlier``; None: there was none) where it still holds
    what was ``written``, journaled; raise CatsortError naming it where it changed since."""
    now = read_sidecar(path)
    if now == earlier:
        return  # as it was already
    if now != written:
        raise CatsortError(f"{path}: changed since catsort wrote it; left as it is", FAILED)
    if earlier is not None:
        write_sidecar(path, earlier, now, journal)
        return
    try:
        os.unlink(path)  # one catsort made: undo finds it gone, as it was before, and is content
    except OSError as exc:
        raise CatsortError(f"{path}: cannot remove sidecar ({exc.strerror})", FAILED) from None


def _mtime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _save_backup(backup: Path, data: bytes) -> None:
    try:
        backup.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(backup, data, replace=True)
    except OSError as exc:
        raise _unwritable(
            f"{backup}: cannot keep the earlier sidecar for undo ({os_reason(exc)})",
            exc,
            f"cannot keep its earlier sidecar for undo ({os_reason(exc)})",
        ) from None


def _replace(path: Path, data: bytes, before: bytes | None) -> None:
    """Put ``data`` at ``path`` atomically, where the file still holds ``before`` (None: absent)."""

    def unchanged() -> None:
        if read_sidecar(path) != before:
            raise CatsortError(
                f"{path}: changed while catsort was tagging; left untouched",
                FAILED,
                reason="its sidecar changed while catsort was tagging; left untouched",
            )

    try:
        # A new sidecar goes only into a free name: never over one another program made meanwhile.
        files.write_atomic(
            path, data, replace=before is not None, check=None if before is None else unchanged
        )
    except FileExistsError:
        raise CatsortError(
            f"{path}: created by another program meanwhile; left untouched",
            FAILED,
            reason="its sidecar was created by another program meanwhile; left untouched",
        ) from None
    except OSError as exc:
        raise _unwritable(
            f"{path}: cannot write sidecar ({os_reason(exc)})",
            exc,
            f"cannot write its sidecar ({os_reason(exc)})",
        ) from None
    # The folder is not synced (a third sync per sidecar): a rename lost in a crash leaves the
    # earlier sidecar whole, and undo, which compares contents with the journal, sees that.


# --- undo ------------------------------------------------------------------------------------


def sidecar_records(records: Sequence[dict]) -> dict[int, dict]:
    """The sidecars a journal recorded: number -> the begin record with its latest state."""
    found: dict[int, dict] = {}
    for record in records:
        n = record.get("n")
        if record.get("op") != OP or not isinstance(n, int):
            continue
        if record.get("state") == "begin" and isinstance(record.get("sidecar"), str):
            found[n] = dict(record)
        elif n in found and isinstance(record.get("state"), str):
            found[n]["state"] = record["state"]
    return found


def interrupted_sidecar_folders(journal: Journal) -> set[Path]:
    """Folders of the sidecar writes the journal began and never ended (a killed run)."""
    return {
        journal.resolve(record["sidecar"]).parent
        for record in sidecar_records(journal.records).values()
        if record["state"] == "begin"
    }


def undo_sidecars(journal: Journal, result: UndoResult) -> None:
    """Put back every sidecar the journal's run wrote, newest first, unless changed since."""
    for n, record in sorted(sidecar_records(journal.records).items(), reverse=True):
        if record["state"] not in ("begin", "done"):
            continue  # never written, or put back by an earlier undo
        backup = journal.resolve(record["backup"]) if record.get("backup") else None
        if _undo_one(journal.resolve(record["sidecar"]), backup, record, result):
            try:
                journal.append({"n": n, "op": OP, "state": "reverted"})
            except WriteFailed:
                pass  # a full disk: undo run again finds the sidecar as it was, and records it
            if backup is not None:
                files.remove_quietly(backup)
                _rmdir_quietly(backup.parent)


def _undo_one(path: Path, backup: Path | None, record: dict, result: UndoResult) -> bool:
    try:
        current = read_sidecar(path)
    except CatsortError as exc:
        result.skipped.append(str(exc))
        return False
    if _digest(current) == record.get("before"):
        return True  # as it was: the write never happened, or was undone already
    kept = f" (the earlier one is kept in {backup})" if backup is not None else ""
    if current is None:
        result.skipped.append(f"{path}: sidecar missing, not put back{kept}")
        return False
    if _digest(current) != record.get("after"):
        result.skipped.append(f"{path}: kept, the sidecar changed since catsort wrote it{kept}")
        return False
    if backup is None:
        try:
            os.unlink(path)
        except OSError as exc:
            result.skipped.append(f"{path}: cannot remove sidecar ({exc.strerror})")
            return False
        result.sidecars.append(path)
        return True
    try:
        earlier = backup.read_bytes()
    except OSError as exc:
        result.skipped.append(f"{path}: kept, cannot read its earlier copy ({exc.strerror})")
        return False
    if _digest(earlier) != record.get("before"):
        result.skipped.append(f"{path}: kept, its earlier copy {backup} is damaged")
        return False
    try:
        _replace(path, earlier, current)
    except CatsortError as exc:
        result.skipped.append(str(exc))
        return False
    mtime_ns = record.get("mtime_ns")
    if isinstance(mtime_ns, int):
        try:
            os.utime(path, ns=(time.time_ns(), mtime_ns))
        except OSError:
            pass  # the bytes are back, which is what matters; the time is a courtesy
    result.sidecars.append(path)
    return True


def _rmdir_quietly(folder: Path) -> None:
    for each in (folder, folder.parent):
        try:
            os.rmdir(each)
        except OSError:
            return  # not empty: other sidecars of this or another journal


class SidecarRecords:
    """The journal's sidecar records (their "op" is OP), as catsort.sorting.journal uses them."""

    def interrupted_folders(self, journal: Journal) -> set[Path]:
        """Folders of the sidecar writes the journal began and never ended (a killed run)."""
        return interrupted_sidecar_folders(journal)

    def undo(self, journal: Journal, result: UndoResult) -> None:
        """Put back every sidecar the journal's run wrote."""
        undo_sidecars(journal, result)


register_kind(OP, SidecarRecords())
