"""The one exception catsort raises for problems a user can fix, and how its messages are worded.

No exit codes here: the command line chooses them (``catsort.cli.common``), from ``kind``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping

#: The input, a setting or the environment is wrong: fix it and run again (nothing was done).
USAGE = "usage"
#: The work itself failed part way: a file could not be placed, the CSV could not be written.
FAILED = "failed"


class CatsortError(Exception):
    """A problem with the user's input or environment, with a message saying what to do.

    ``kind`` is USAGE (the default) or FAILED. ``reason`` is the message without the paths in it
    (which photo, which folder), where it names any: what a run's summary groups errors by.
    """

    def __init__(self, message: str, kind: str = USAGE, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason

    def spelled(self, names: Mapping[str, str]) -> str:
        """The message with the settings it names spelled by ``names`` (see SettingsError)."""
        return str(self)


#: Errors of a disk that takes no more writes: full, over quota, read-only, failing. Every later
#: write to it would fail the same way, so a run stops at the first instead of failing each file.
DISK_ERRORS = frozenset(
    code
    for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS, errno.EIO)
    if code is not None
)


class WriteFailed(CatsortError):
    """A file catsort had to write could not be written (a full disk, a read-only one, a failing
    one): its journal, the CSV, the disk a photo goes to. The run stops there, its records
    whole; the message names the file and why (kind FAILED)."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message, FAILED, reason=reason)


class SettingsError(CatsortError):
    """Settings that cannot work, alone or together; the message names them by field.

    ``template`` names each setting as ``{field}``, spelled as the Python API spells it:
    ``{dest}`` reads ``dest=``, ``{dest:DIR}`` reads ``dest=DIR`` (``{dest:{folder}}`` with
    ``folder`` among the values), and ``{use_gate:=False}`` reads ``use_gate=False``.
    ``spelled(names)`` spells them as another client names them (the command line: ``--dest``,
    ``--dest DIR``, and for ``use_gate`` its ``--no-gate``; a value after ``=`` is the API's only).
    The ``values`` (paths, reasons) are put in as they are; none is named like a field.
    """

    def __init__(self, template: str, kind: str = USAGE, **values: object) -> None:
        self.template = template
        self.values = values
        super().__init__(self.spelled({}), kind)

    def spelled(self, names: Mapping[str, str]) -> str:
        """The message, each setting spelled by ``names`` where it has one, else as the API's."""
        return self.template.format_map(_Fields(self.values, names))


class _Fields(dict):
    """The values of a message's template; any other name in it is a setting's field."""

    def __init__(self, values: Mapping[str, object], names: Mapping[str, str]) -> None:
        super().__init__(values)
        self.names = names

    def __missing__(self, field: str) -> _Field:
        return _Field(field, self.names.get(field))


class _Field:
    def __init__(self, field: str, name: str | None) -> None:
        self.field = field
        self.name = name

    def __format__(self, spec: str) -> str:
        if self.name is None:  # the API's spelling
            return f"{self.field}={spec.removeprefix('=')}"
        if not spec or spec.startswith("="):
            return self.name
        return f"{self.name} {spec}"


def one_line(error: BaseException | str) -> str:
    """A message (or an exception's) on one line; an exception's name when it says nothing."""
    text = " ".join(str(error).split())
    if not text and isinstance(error, BaseException):
        return type(error).__name__
    return text


def last_line(error: BaseException) -> str:
    """The last line of a long message, where a remote traceback says what went wrong."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def os_reason(error: OSError) -> str:
    """Why a file operation failed, in a few words: "permission denied", "No space left ..."."""
    if isinstance(error, PermissionError):
        return "permission denied"
    return error.strerror or str(error)


def without_path(message: str, path: str | os.PathLike[str]) -> str:
    """``message`` without its leading ``"<path>: "``: the reason, for a line naming the path."""
    prefix = f"{os.fspath(path)}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
