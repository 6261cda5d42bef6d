"""One --move/--copy run at a time per destination: a lock file in ``<dest>/.catsort/``.

The lock is ``fcntl.flock`` on ``<dest>/.catsort/lock``, which the system drops when its owner
exits however it ends; the file holds the owner's pid and start time so that a second run can say
who is busy. A file left by a run that is gone (no lock held on it) is taken over with a note.
Where flock is missing (Windows) the file is made with O_EXCL instead.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from catsort import files
from catsort.errors import FAILED, CatsortError, os_reason

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "lock"


class DestinationBusy(CatsortError):
    """Another catsort run is moving or copying into the same destination (exit code 2)."""


class DestinationLock:
    """The held lock of one destination; release it with ``release`` or a ``with`` block."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(
        cls, journal_dir: Path, on_note: Callable[[str], None] | None = None
    ) -> DestinationLock:
        """Take the lock in ``journal_dir`` or raise DestinationBusy naming its owner."""
        journal_dir = Path(journal_dir)
        try:
            journal_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatsortError(
                f"{journal_dir}: cannot create folder ({os_reason(exc)})", FAILED
            ) from None
        path = journal_dir / LOCK_NAME
        while True:
            fd, previous = _open_locked(path)
            if fd is not None:
                break
        if previous and on_note is not None:
            on_note(f"{path}: took over a stale lock left by {_owner(previous)}, which is gone")
        record = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(fd, 0)
            files.write_all(fd, (json.dumps(record) + "\n").encode("ascii"))
            files.sync(fd)
        except OSError:
            # A full disk: the lock is held all the same (flock), and undo, which frees room,
            # must still run. Without its record a second run says "has not written its pid".
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass  # a torn record reads as none
        return cls(path, fd)

    def release(self) -> None:
        """Remove the lock file and let the next run in."""
        if self._fd < 0:
            return
        try:
            os.unlink(self.path)  # while still held, so no one locks a file about to go
        except OSError:
            pass  # already gone: nothing to remove
        try:
            os.rmdir(self.path.parent)
        except OSError:
            pass  # journals are there: leave the folder
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> DestinationLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _open_locked(path: Path) -> tuple[int | None, dict | None]:
    """Open and lock ``path``; return (fd, the stale owner's record) or (None, _) to try again."""
    if fcntl is None:  # pragma: no cover - Windows
        return _open_exclusive(path)
    try:
        fd = files.open_for_writing(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CatsortError(f"{path}: cannot create lock file ({os_reason(exc)})", FAILED) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = _read(fd)
        os.close(fd)
        raise DestinationBusy(_busy(path, owner)) from None
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        same = False
    if not same:  # the run before removed it between our open and lock: lock the new one
        os.close(fd)
        return None, None
    return fd, _read(fd)


def _open_exclusive(path: Path) -> tuple[int | None, dict | None]:  # pragma: no cover - Windows
    # No flock, and os.kill there ends a process rather than asking about it: a lock file that
    # is there is taken as held, and the message says which run left it.
    try:
        return files.open_for_writing(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), None
    except FileExistsError:
        pass
    try:
        with open(path, "rb") as file:
            owner = _parse(file.read())
    except FileNotFoundError:
        return None, None
    raise DestinationBusy(_busy(path, owner) + f" (if it is gone, remove {path})")


def _busy(path: Path, owner: dict | None) -> str:
    dest = path.parent.parent
    return (
        f"{dest}: another catsort run is sorting into this folder ({_owner(owner)}); "
        "wait for it to finish"
    )


def _owner(owner: dict | None) -> str:
    if not owner:
        return "a run that has not written its pid yet"
    return f"pid {owner.get('pid')}, started {owner.get('started')}"


def _read(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return _parse(data)


def _parse(data: bytes) -> dict | None:
    try:
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
