"""Writing files all or nothing: hidden temporary files, synced, renamed into place unclobbered.

Every write catsort makes among the user's files (moves and copies, sidecars, its own journal
folder's files: the journals, the lock, the job file; a review's corrected CSV and export; the
report page) goes through these helpers, below sorting and tagging, which both use them: a file
is opened to be written with ``open_for_writing``, written with ``write_all``, synced with
``sync`` and put in place with ``rename_noreplace``, ``replace_file`` or ``hard_link``, so that
a full or failing disk is met in one place (and a test can make any of those steps fail). They
raise OSError (FileExistsError where a name is taken); callers word the message.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path

#: Hidden name prefix of the partial files made before a file is put in place; recovery after
#: a crash removes those it finds (catsort.sorting.restore.temp_files).
TEMP_PREFIX = ".catsort-tmp-"


def temp_beside(target: Path, suffix: str = "") -> Path:
    """A free hidden name in ``target``'s folder for the file that will become ``target``."""
    return Path(target).parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}{suffix}"


def write_atomic(
    path: Path,
    data: bytes,
    *,
    replace: bool,
    check: Callable[[], None] | None = None,
) -> None:
    """Put ``data`` at ``path`` whole or not at all: written beside it, synced, renamed in.

    ``replace``: over the file there (keeping its permissions); otherwise only into a free
    name (FileExistsError when it is taken, even by a file made a moment ago). ``check`` runs
    just before the rename and may raise to stop it. Nothing is left behind on failure.
    """
    path = Path(path)
    temp = temp_beside(path, path.suffix)
    try:
        fd = open_for_writing(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            write_all(fd, data)
            sync(fd)
        finally:
            os.close(fd)
        if check is not None:
            check()
        if replace:
            try:
                os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
            except FileNotFoundError:
                pass  # nothing there to replace: a new file
            replace_file(temp, path)
        else:
            rename_noreplace(temp, path)
    except BaseException:
        remove_quietly(temp)
        raise


def open_for_writing(path: Path, flags: int, mode: int = 0o666) -> int:
    """Open a file to be written (``os.open`` with ``flags``: O_CREAT, O_EXCL, O_APPEND...)."""
    return os.open(path, flags | getattr(os, "O_BINARY", 0), mode)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to an open file (one ``os.write`` may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def sync(fd: int) -> None:
    """Make an open file's bytes durable on the disk."""
    os.fsync(fd)


def replace_file(source: Path, target: Path) -> None:
    """Rename ``source`` over ``target``, atomically (the one rename that may replace a file)."""
    os.replace(source, target)


def hard_link(source: Path, target: Path) -> None:
    """Give the file ``source`` a second name, ``target`` (FileExistsError where it is taken)."""
    os.link(source, target, follow_symlinks=False)


def remove_quietly(path: Path) -> None:
    """Remove a file if it can be: one already gone, or that cannot go, is left be."""
    try:
        os.unlink(path)
    except OSError:
        pass  # already gone, or never made: what is wanted, or nothing more to do


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open folders; its renames are durable enough
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is still atomic
    finally:
        os.close(fd)


# --- the no-clobber rename -------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
# Errors meaning "this system or file system cannot do it this way", not "this file failed".
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}


def _load_renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_renameat2 = _load_renameat2()


def rename_noreplace(source: Path, target: Path) -> None:
    """Atomically rename ``source`` to ``target``; FileExistsError if the target exists.

    OSError with errno EXDEV when the two are on different file systems.
    """
    if _renameat2 is not None:
        result = _renameat2(
            _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        err = ctypes.get_errno()
        if err not in _UNSUPPORTED:
            raise OSError(err, os.strerror(err), os.fspath(source), None, os.fspath(target))
    try:
        # A second name, then drop the first: the file is never missing, and link() refuses to
        # replace an existing name.
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED | {errno.EPERM, errno.EMLINK}:
            raise
        # No hard links here (FAT, some network shares): check, then rename. A small race
        # remains only on such file systems.
        if os.path.lexists(target):
            raise FileExistsError(
                errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(target)
            ) from None
        os.rename(source, target)
        return
    try:
        os.unlink(source)
    except OSError:
        os.unlink(target)  # back to one name, the original
        raise
