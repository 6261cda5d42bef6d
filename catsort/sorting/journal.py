"""The journal of a --move/--copy run: each operation written down before it happens.

A journal is a JSON-lines file in ``<dest>/.catsort/``: a header line, then for each operation a
"begin" line (synced to disk before the file is touched) and a "done" or "aborted" line after.
``recover`` settles what a crash left half-way; ``undo`` puts every file back, marking each one
"reverted", and marks the journal "undone" once no file was left alone.

A photo and its companion files are begun together, each "begin" line naming its ``group`` (the
number of the photo's operation); a group split by a crash is finished, or put back whole, when
it is settled. Journals without the field (older ones, lone photos) read as before.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NoReturn, Protocol

from catsort import files
from catsort.errors import FAILED, CatsortError, WriteFailed, os_reason
from catsort.skiplist import JOURNAL_DIR
from catsort.sorting.lock import DestinationLock
from catsort.sorting.place import COPY, MOVE, Placement, same_content
from catsort.sorting.restore import (
    Entry,
    UndoResult,
    settle_entry,
    settle_group,
    temp_files,
    undo_copy,
    undo_move,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, one run at a time is assumed
    fcntl = None  # type: ignore[assignment]

# JOURNAL_DIR (.catsort), the hidden folder in the destination holding the journals, comes from
# catsort.skiplist: a walk never enters a folder below the one given that holds one.
_HEADER = "catsort"
_VERSION = 2  # 2: paths relative to the destination
_FINAL = ("closed", "undone")  # a journal whose last line says this has nothing to settle


class JournalBusy(CatsortError):
    """The journal is locked by a catsort run still going on."""


class RecordKind(Protocol):
    """A kind of journal record other than moves and copies, as the module that writes it
    handles it (catsort.tagging.sidecar's sidecar writes): it registers with ``register_kind``,
    so that this module, below it, settles and undoes records it does not know itself."""

    def interrupted_folders(self, journal: Journal) -> set[Path]:
        """Folders where its writes that a crash interrupted may have left temporary files."""
        ...

    def undo(self, journal: Journal, result: UndoResult) -> None:
        """Put back what its records did, adding to ``result``; mark them with ``append``."""
        ...


#: "op" -> the kind of record; a journal holding an unregistered kind is never marked undone.
_KINDS: dict[str, RecordKind] = {}


def register_kind(op: str, kind: RecordKind) -> None:
    """Teach journals to settle and undo the records whose "op" is ``op``."""
    _KINDS[op] = kind


class Journal:
    """An open, locked journal file; use ``Journal.create`` for a new run."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._base = os.path.abspath(Path(path).parent.parent)  # the destination, as it is now
        self._recorded_base = self._base  # the destination when the journal was written
        self._pending: dict[Placement, int] = {}
        self._recent: dict[Placement, int] = {}  # done in the group begun last: can be reverted
        self._next = 0
        self.completed = 0  # operations this run carried out (marked done)
        self.entries: dict[int, Entry] = {}
        # Records of operations other than moves and copies (catsort.tagging's sidecars), as
        # read and written, for the modules that made them; older catsort versions skip them.
        self.records: list[dict] = []
        self.undone = False
        self._created = False
        # The first write that failed (a full disk): every later one raises it again, so that
        # nothing is appended after a line that may be torn.
        self.failed: WriteFailed | None = None

    @classmethod
    def create(cls, dest: Path) -> Journal:
        """Start a new journal ``<dest>/.catsort/journal-YYYYmmdd-HHMMSS[-n].jsonl``."""
        folder = Path(dest) / JOURNAL_DIR
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = os_reason(exc)
            raise WriteFailed(f"{folder}: cannot create journal folder ({reason})") from None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        n = 0
        while True:
            path = folder / (f"journal-{stamp}.jsonl" if n == 0 else f"journal-{stamp}-{n}.jsonl")
            try:
                fd = files.open_for_writing(path, flags, 0o644)
                break
            except FileExistsError:
                n += 1
            except OSError as exc:
                raise WriteFailed(f"{path}: cannot create journal ({os_reason(exc)})") from None
        journal = cls(path, fd)
        try:
            _lock(fd, path)
            journal._write(
                {"journal": _HEADER, "version": _VERSION, "dest": os.path.abspath(dest)}, sync=True
            )
        except BaseException:
            os.close(fd)
            files.remove_quietly(path)  # empty, or a torn header: nothing recorded yet
            raise
        journal._created = True
        return journal

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Open and lock an existing journal and read its entries back."""
        path = Path(path)
        try:
            fd = files.open_for_writing(path, os.O_RDWR | os.O_APPEND)
        except IsADirectoryError:
            raise CatsortError(
                f"{path}: is a folder, not a catsort journal; "
                "`catsort undo --all FOLDER` undoes every run into a folder"
            ) from None
        except FileNotFoundError:
            raise CatsortError(f"{path}: no such journal file") from None
        except OSError as exc:
            raise CatsortError(f"{path}: cannot open journal ({os_reason(exc)})", FAILED) from None
        journal = cls(path, fd)
        try:
            _lock(fd, path)
            journal._read()
        except BaseException:
            os.close(fd)
            raise
        return journal

    @property
    def count(self) -> int:
        """Number of operations begun in this journal."""
        return self._next

    def number(self) -> int:
        """A new operation number, for a record of another kind (see ``records``)."""
        self._next += 1
        return self._next - 1

    def append(self, record: dict, sync: bool = False) -> None:
        """Write a record of another kind than move and copy (it has its own "op")."""
        self._write(record, sync=sync)
        self.records.append(record)

    def relative(self, path: Path) -> str:
        """A path as this journal records it (relative to the destination where it can be)."""
        return self._relative(path)

    def resolve(self, recorded: str) -> Path:
        """A path this journal recorded, as it is now."""
        return self._resolve(recorded)

    def begin(self, placement: Placement) -> None:
        """Record an operation, durably, before it is carried out."""
        self.begin_many([placement])

    def begin_many(self, placements: Sequence[Placement], group: bool = False) -> None:
        """Record several operations with a single disk sync (a sync costs milliseconds).

        ``group``: a photo and its companions, to be carried out all or none; a crash part way
        through is settled by finishing the group, or taking it back (``settle``).
        """
        lines = []
        first = self._next
        self._recent.clear()
        for placement in placements:
            self._pending[placement] = self._next
            record = self._record(self._next, placement, "begin")
            if group:
                record["group"] = first  # the number of its first operation, the photo's
            lines.append(record)
            self._next += 1
        self._write(*lines, sync=True)

    def done(self, placement: Placement) -> None:
        """Record that a begun operation has completed."""
        n = self._pending.pop(placement)
        self._write(self._record(n, placement, "done"))
        self._recent[placement] = n
        self.completed += 1

    def revert(self, placement: Placement) -> None:
        """Record that an operation of the group begun last was taken back (the group failed)."""
        self._write(self._record(self._recent.pop(placement), placement, "reverted"))
        self.completed -= 1

    def abort(self, placement: Placement) -> None:
        """Record that a begun operation failed and changed nothing."""
        self._write(self._record(self._pending.pop(placement), placement, "aborted"))

    def close(self) -> None:
        """Close the journal; one of a run that changed nothing (it recorded nothing, or only
        operations that failed) is removed again: there is nothing to put back.

        It never raises for a write that fails here: a journal left without its "closed" line
        is settled by the next run, which finds every operation in it ended. ``failed`` says so.
        """
        if self._fd < 0:
            return
        try:
            if self._created and self.failed is None and not self._pending and not self.completed:
                os.unlink(self.path)
                _rmdir_if_empty(self.path.parent)
            elif not (
                self._pending
                or self.undone
                or any(e.state == "begin" for e in self.entries.values())
            ):
                self._write({"state": "closed"}, sync=True)
        except WriteFailed:
            pass  # kept in self.failed
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def settle(self) -> list[str]:
        """Settle every operation begun but not finished (a crash); return one line for each."""
        messages = []
        folders = set()
        interrupted = {e.group for e in self.entries.values() if e.state == "begin"} - {None}
        for entry in self.entries.values():
            if entry.state != "begin":
                continue
            try:
                state, message = settle_entry(entry)
            except OSError as exc:
                messages.append(
                    f"{entry.source}: cannot settle an interrupted {entry.op} "
                    f"to {entry.target} ({exc.strerror})"
                )
                continue
            try:
                self._set_state(entry, state, sync=True)
            except WriteFailed as exc:
                # Nothing more is settled without its record: the next run decides again from
                # the disk, which now holds what settling did so far.
                return [*messages, f"{exc}; what it left interrupted is settled next time"]
            if entry.group is None:
                messages.append(message)  # a group's members get one line for the group
            folders.add(entry.target.parent)
        for group in sorted(g for g in interrupted if g is not None):
            members = sorted(
                (e for e in self.entries.values() if e.group == group), key=lambda e: e.n
            )
            try:
                settled = settle_group(members, lambda e, s: self._set_state(e, s, sync=True))
            except WriteFailed as exc:
                return [*messages, f"{exc}; what it left interrupted is settled next time"]
            messages.extend(settled)
            folders.update(entry.target.parent for entry in members)
        for kind in _KINDS.values():
            folders.update(kind.interrupted_folders(self))
        for folder in sorted(folders):
            for temp in temp_files(folder):
                try:
                    os.unlink(temp)
                except OSError as exc:
                    messages.append(f"{temp}: cannot remove partial copy ({exc.strerror})")
                else:
                    messages.append(f"{temp}: removed a partial copy left by an interrupted run")
        return messages

    def folders_made(self, target: Path) -> list[Path]:
        """The folders a target may have needed made: its own and those above it, up to the
        destination (``cat/2019/07`` for ``cat/2019/07/x.jpg``)."""
        base = Path(self._base)
        folders = [target.parent]
        while folders[-1].parent != folders[-1] and base in folders[-1].parent.parents:
            folders.append(folders[-1].parent)
        return folders

    def mark_reverted(self, entry: Entry) -> None:
        """Record that one operation has been undone, so that undo run again skips it."""
        self._set_state(entry, "reverted")

    def mark_undone(self) -> None:
        """Record that this journal has been undone."""
        self._write({"state": "undone"}, sync=True)
        self.undone = True

    def _set_state(self, entry: Entry, state: str, sync: bool = False) -> None:
        self._write(
            {
                "n": entry.n,
                "op": entry.op,
                "source": self._relative(entry.source),
                "target": self._relative(entry.target),
                "state": state,
            },
            sync=sync,
        )
        entry.state = state

    def _write(self, *records: dict, sync: bool = False) -> None:
        """Append whole lines, or nothing: a write that fails part way (a full disk) is cut off
        again, and raises WriteFailed, as every later write of this journal does."""
        if self.failed is not None:
            raise self.failed
        # ensure_ascii keeps non-UTF-8 file names (lone surrogates) as \udcxx escapes.
        data = "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records).encode("ascii")
        try:
            size = os.fstat(self._fd).st_size
        except OSError as exc:
            self._fail(exc)
        try:
            files.write_all(self._fd, data)
            if sync:
                files.sync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, size)  # no torn line for the next run to read
            except OSError:
                pass  # it reads a torn last line as an operation that never began
            self._fail(exc)

    def _fail(self, exc: OSError) -> NoReturn:
        self.failed = WriteFailed(f"{self.path}: cannot write the journal ({os_reason(exc)})")
        raise self.failed from None

    def _read(self) -> None:
        with open(os.dup(self._fd), "rb") as file:
            file.seek(0)
            data = file.read()
        self._parse(data)
        if data and not data.endswith(b"\n"):
            # Cut the torn line off (which needs no room on a full disk), so that the next line
            # does not join it; where that cannot be done, nothing more is written here.
            try:
                os.ftruncate(self._fd, data.rfind(b"\n") + 1)
            except OSError as exc:
                self.failed = WriteFailed(
                    f"{self.path}: cannot write the journal ({os_reason(exc)})"
                )

    def _parse(self, data: bytes) -> None:
        lines = data.split(b"\n")
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("journal") != _HEADER:
            raise CatsortError(f"{self.path}: not a catsort journal")
        if isinstance(header.get("dest"), str):
            self._recorded_base = header["dest"]
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the torn last line of a crash: its operation never began
            if isinstance(record, dict):
                self._apply(record)

    def _apply(self, record: dict) -> None:
        state = record.get("state")
        if not isinstance(state, str):
            return
        if state == "undone":
            self.undone = True
        n = record.get("n")
        if not isinstance(n, int):
            return
        if record.get("op") not in (MOVE, COPY):
            self.records.append(record)
            self._next = max(self._next, n + 1)
            return
        if n in self.entries:
            self.entries[n].state = state
        elif (
            state == "begin"
            and record.get("op") in (MOVE, COPY)
            and all(isinstance(record.get(key), str) for key in ("source", "target"))
        ):
            group = record.get("group")
            self.entries[n] = Entry(
                n,
                record["op"],
                self._resolve(record["source"]),
                self._resolve(record["target"]),
                state,
                group if isinstance(group, int) else None,
            )
        self._next = max(self._next, n + 1)

    def _record(self, n: int, placement: Placement, state: str) -> dict:
        return {
            "n": n,
            "op": placement.action,
            "source": self._relative(placement.source),
            "target": self._relative(placement.target),
            "state": state,
        }

    def _relative(self, path: Path) -> str:
        """``path`` relative to the destination; absolute where it cannot be (another drive)."""
        absolute = os.path.abspath(path)
        try:
            return os.path.relpath(absolute, self._base)
        except ValueError:
            return absolute

    def _resolve(self, recorded: str) -> Path:
        """A recorded path as it is now: relative ones against the destination's current place.

        A path outside the destination (``../inbox/x.jpg``, a run with its own --dest) depends
        on what moved: if its folder is still where it was recorded, only the destination
        moved and the path is that one; otherwise the whole library moved with it.
        """
        if os.path.isabs(recorded):
            return Path(recorded)  # a journal of an earlier version, or another drive
        now = Path(os.path.normpath(os.path.join(self._base, recorded)))
        if recorded.split(os.sep, 1)[0] != os.pardir or self._recorded_base == self._base:
            return now
        before = Path(os.path.normpath(os.path.join(self._recorded_base, recorded)))
        return before if before.parent.is_dir() else now


def recover(dest: Path) -> list[str]:
    """Settle the operations that an interrupted run left half-done in ``dest``'s journals."""
    folder = Path(dest) / JOURNAL_DIR
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("journal-*.jsonl")):
        if _last_state(path) in _FINAL:
            continue
        try:
            with Journal.open(path) as journal:
                messages.extend(journal.settle())
        except JournalBusy:
            continue  # another run is writing it; it is not ours to settle
        except CatsortError as exc:
            messages.append(str(exc))
    return messages


def undo(journal_path: Path) -> UndoResult:
    """Put every file of a journal back where it was, newest first, never overwriting.

    It holds the destination's lock (the journal's folder) meanwhile, so no sort runs into the
    destination while it is being undone.
    """
    journal_path = Path(journal_path)
    if not journal_path.is_file():
        return _undo(journal_path)  # opening it says what is wrong, without making a lock
    with DestinationLock.acquire(journal_path.parent):
        return _undo(journal_path)


def undo_all(dest: Path) -> list[tuple[Path, UndoResult]]:
    """Undo every journal in ``dest``'s journal folder, newest first, under one lock.

    Journals already undone are passed over (their result says ``already_undone``); ``dest``
    may also be the journal folder itself.
    """
    dest = Path(dest)
    folder = dest if dest.name == JOURNAL_DIR else dest / JOURNAL_DIR
    if not dest.is_dir():
        raise CatsortError(f"{dest}: no such folder")
    journals = journals_newest_first(folder)
    if not journals:
        raise CatsortError(f"{dest}: no catsort journals in {folder}")
    with DestinationLock.acquire(folder):
        return [(path, _undo(path)) for path in journals]


def journals_newest_first(folder: Path) -> list[Path]:
    """The journals in a journal folder, newest first (by the time and number in the name)."""

    def order(path: Path) -> tuple[str, int]:
        stem = path.name.removeprefix("journal-").removesuffix(".jsonl")
        parts = stem.split("-")
        if len(parts) == 3 and parts[2].isdigit():  # journal-YYYYmmdd-HHMMSS-n.jsonl
            return "-".join(parts[:2]), int(parts[2])
        return stem, 0

    try:
        paths = [path for path in Path(folder).glob("journal-*.jsonl") if path.is_file()]
    except OSError:
        return []
    return sorted(paths, key=order, reverse=True)


def read_entries(path: Path) -> list[Entry]:
    """The moves and copies a journal records, each in its latest state, read without locking
    or writing it (the run that writes it may still be going on); none if it cannot be read."""
    journal = Journal(Path(path), -1)
    try:
        with open(path, "rb") as file:
            journal._parse(file.read())
    except (OSError, CatsortError):
        return []
    return list(journal.entries.values())


class Whereabouts:
    """Where a photo that catsort moved is now, as the journals of the folders above it (and of
    ``roots``) say: for a link left pointing to nothing by a move, for a copy whose original
    moved since. Each journal folder is read once."""

    def __init__(self, roots: Iterable[Path] = ()) -> None:
        self.roots = [Path(os.path.realpath(root)) for root in roots]
        self._moved: dict[Path, dict[str, Path]] = {}  # folder -> {where it was: where it went}

    def find(self, path: Path) -> Path | None:
        """Where the file once at ``path`` is now, if a catsort run moved it there, or an undo
        put it back there, and it is there; else None."""
        real = os.path.realpath(path)
        for folder in [*Path(real).parents, *self.roots]:
            if folder not in self._moved:
                self._moved[folder] = _moves_into(folder)
            now = self._moved[folder].get(real)
            if now is not None and os.path.lexists(now):
                return now
        return None


def _moves_into(folder: Path) -> dict[str, Path]:
    """{a moved file's resolved old path: its new one} from the journals of ``folder``, oldest
    first, so that the latest move of a file wins; an undone move leads back."""
    moved: dict[str, Path] = {}
    for journal in reversed(journals_newest_first(folder / JOURNAL_DIR)):
        for entry in sorted(read_entries(journal), key=lambda e: e.n):
            if entry.op != MOVE:
                continue
            if entry.state == "done":
                moved[os.path.realpath(entry.source)] = entry.target
            elif entry.state == "reverted":
                moved[os.path.realpath(entry.target)] = entry.source
    return moved


def folders_sorted_into(dest: Path, labels: Sequence[str]) -> set[str]:
    """The label folders of ``dest`` that catsort runs sorted photos into, as the journals in
    ``dest/.catsort`` say (those undone left out: what they put there is gone again)."""
    found: set[str] = set()
    base = os.path.abspath(dest)
    for journal in journals_newest_first(Path(dest) / JOURNAL_DIR):
        if is_undone(journal):
            continue
        for entry in read_entries(journal):
            try:
                top = os.path.relpath(os.path.abspath(entry.target), base).split(os.sep, 1)[0]
            except ValueError:  # another drive
                continue
            if top in labels:
                found.add(top)
        if found.issuperset(labels):
            break
    return found


def is_undone(path: Path) -> bool:
    """Tell whether a journal has been undone in full."""
    return _last_state(Path(path)) == "undone"


def done_placements(dest: Path, leave_out: Path | None = None) -> dict[Path, Entry]:
    """Every move and copy into ``dest`` that its journal carried out and no undo took back,
    by where the file went (absolute); for a place used twice, the newest. ``leave_out``: a
    journal not to read (the one the caller is writing)."""
    found: dict[Path, Entry] = {}
    for path in journals_newest_first(Path(dest) / JOURNAL_DIR):
        if leave_out is not None and os.path.abspath(path) == os.path.abspath(leave_out):
            continue
        try:
            with Journal.open(path) as journal:
                entries = sorted(journal.entries.values(), key=lambda e: e.n, reverse=True)
        except CatsortError:
            continue  # unreadable, or busy with a run going on: not ours to read
        for entry in entries:
            if entry.state == "done":
                found.setdefault(Path(os.path.abspath(entry.target)), entry)
    return found


def _undo(journal_path: Path) -> UndoResult:
    with Journal.open(journal_path) as journal:
        if journal.undone:
            return UndoResult(
                skipped=[f"{journal.path}: already undone, nothing changed"],
                already_undone=True,
                journal=journal_path,
            )
        result = UndoResult(notes=journal.settle(), journal=journal_path)
        held = _held_groups(journal.entries.values(), result)
        # Other kinds (sidecars) first: they were written after the moves, where photos went.
        for op in sorted({r["op"] for r in journal.records if isinstance(r.get("op"), str)}):
            kind = _KINDS.get(op)
            if kind is None:  # a newer catsort's, or its module was never imported
                result.skipped.append(f"{journal.path}: its {op!r} records are not undone here")
        for kind in _KINDS.values():
            kind.undo(journal, result)
        folders = set()
        whereabouts = Whereabouts()  # where the originals of copies moved since are now
        for entry in sorted(journal.entries.values(), key=lambda e: e.n, reverse=True):
            if entry.group in held:
                continue
            if entry.state == "begin":
                result.skipped.append(
                    f"{entry.source}: not put back, its interrupted "
                    f"{entry.op} to {entry.target} could not be settled"
                )
            if entry.state != "done":
                continue  # never carried out, undone by an earlier undo, or not settled
            if entry.op == MOVE:
                back = undo_move(entry, result)
            else:
                back = undo_copy(entry, result, whereabouts.find)
            if back:
                _unless_full(journal.mark_reverted, entry)
            folders.update(journal.folders_made(entry.target))
        for folder in sorted(folders, reverse=True):
            _rmdir_if_empty(folder)
        # Only once nothing is left alone: until then, undo run again retries what was.
        if not result.skipped:
            _unless_full(journal.mark_undone)
        if journal.failed is not None:
            result.failed.append(
                f"{journal.failed}; what this undo put back is not recorded in it: once there is "
                "room, the same undo again finds it back and records it"
            )
    return result


def _unless_full(mark: Callable[..., None], *args: Entry) -> None:
    """Record what undo did where the journal can still be written. Where it cannot (a full
    disk), undo goes on putting files back: each of its steps is decided from the disk, so an
    undo run again finds what is back already, and records it then."""
    try:
        mark(*args)
    except WriteFailed:
        pass  # kept in journal.failed, and said once at the end


def _held_groups(entries: Iterable[Entry], result: UndoResult) -> set[int]:
    """The moved groups that cannot all go back (a member's old place is taken by another
    file): left whole in their new place, one line each, so that undo never splits a group."""
    groups: dict[int, list[Entry]] = {}
    for entry in entries:
        if entry.group is not None and entry.state == "done" and entry.op == MOVE:
            groups.setdefault(entry.group, []).append(entry)
    held = set()
    for group, members in sorted(groups.items()):
        taken = [
            e
            for e in members
            if os.path.lexists(e.source)
            and os.path.lexists(e.target)
            and not same_content(e.source, e.target)
        ]
        if taken:
            held.add(group)
            photo = min(members, key=lambda e: e.n)
            result.skipped.append(
                f"{photo.target}: not moved back with its {len(members) - 1} companions, "
                f"{taken[0].source} is taken again"
            )
    return held


def _lock(fd: int, path: Path) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalBusy(f"{path}: in use by a catsort run still going on") from None


def _last_state(path: Path) -> str | None:
    """The state on a journal's last line, read without parsing the whole file."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.fstat(file.fileno()).st_size - 4096))
            last = file.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        record = json.loads(last)
    except (OSError, ValueError):
        return None
    return record.get("state") if isinstance(record, dict) else None


def _rmdir_if_empty(folder: Path) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass  # not empty (other photos are there) or already gone: leave it
