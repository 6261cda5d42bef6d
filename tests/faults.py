"""Making catsort's writes fail on purpose, as a full, read-only or failing disk makes them fail.

``Faults(monkeypatch)`` wraps the write steps every file catsort writes goes through
(catsort.files: opening a file to be written, writing, syncing, renaming into place), the results
CSV's stream and the results cache's SQLite connection. ``fail(op, nth, code)`` makes the
``nth`` call of one of them fail with ``code``, and every later one too unless ``once``: a full
disk stays full. Without a failure it counts the calls, so that a test can fail each in turn.
"""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import catsort.csv_out
from catsort import files

#: The write steps of catsort.files, by the name a test gives them.
FILE_STEPS: dict[str, tuple[str, ...]] = {
    "open": ("open_for_writing",),
    "write": ("write_all",),
    "fsync": ("sync",),
    "rename": ("rename_noreplace", "replace_file", "hard_link"),  # a file put in place
}
#: Every step a test can make fail: those of catsort.files, a row of the CSV, the cache's SQL.
STEPS = (*FILE_STEPS, "csv", "cache")


class Faults:
    """Counts catsort's write steps, and makes the chosen one fail (see the module's doc)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.paths: dict[int, str] = {}  # open file descriptor -> the file's path
        self.failed: list[str] = []  # the paths of the steps made to fail, in order
        self._op: str | None = None
        self._nth = 0
        self._code = errno.ENOSPC
        self._once = False
        self._where = ""
        for op, names in FILE_STEPS.items():
            for name in names:
                monkeypatch.setattr(files, name, self._wrap(op, getattr(files, name)))
        real_open = open
        monkeypatch.setattr(
            catsort.csv_out,
            "open",
            lambda *args, **kwargs: _Stream(real_open(*args, **kwargs), self),
            raising=False,
        )
        monkeypatch.setattr(sqlite3, "connect", self._connect(sqlite3.connect))

    def fail(
        self,
        op: str,
        nth: int = 1,
        code: int = errno.ENOSPC,
        *,
        once: bool = False,
        where: str = "",
    ) -> Faults:
        """Make the ``nth`` call of ``op`` (one of STEPS) fail with ``code``, and each later one
        unless ``once``; only calls on a path holding ``where`` count (a file opened before
        these Faults were made is known as ``fd N``: a journal open already, say)."""
        if op not in STEPS:
            raise ValueError(f"unknown step {op!r}: one of {STEPS}")
        self._op, self._nth, self._code, self._once, self._where = op, nth, code, once, where
        self.calls.clear()
        self.failed.clear()
        return self

    def clear(self) -> Faults:
        """Let every step succeed again (a disk with room again), counting them afresh."""
        self._op = None
        self.calls.clear()
        return self

    def check(self, op: str, path: object) -> None:
        """Count a call of ``op`` on ``path``; raise OSError where it is to fail."""
        where = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
        if self._where not in where:
            return
        self.calls[op] += 1
        n = self.calls[op]
        if op == self._op and (n == self._nth or (n > self._nth and not self._once)):
            self.failed.append(where)
            raise OSError(self._code, os.strerror(self._code), where)

    def _wrap(self, op: str, real: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(real)
        def step(*args: Any, **kwargs: Any) -> Any:
            target = args[0]
            if isinstance(target, int):  # write, sync: an open file
                target = self.paths.get(target, f"fd {target}")
            elif op == "rename":
                target = args[1]  # where the file goes
            if op == "write" and self._failing(op, target):
                # A write that fails part way, as a full disk makes it: half of it is written.
                data = args[1]
                real(args[0], data[: len(data) // 2])
            self.check(op, target)
            result = real(*args, **kwargs)
            if op == "open":
                self.paths[result] = os.fspath(args[0])
            return result

        return step

    def _failing(self, op: str, target: object) -> bool:
        """Whether the next call of ``op`` on ``target`` is the one to fail (not counted)."""
        if op != self._op or self._where not in str(target):
            return False
        n = self.calls[op] + 1
        return n == self._nth or (n > self._nth and not self._once)

    def _connect(self, real: Callable[..., sqlite3.Connection]) -> Callable[..., Any]:
        faults = self

        class Connection(sqlite3.Connection):
            """A connection whose writes count as "cache" steps (each statement, each commit)."""

            def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
                if not sql.lstrip().upper().startswith(("SELECT", "PRAGMA")):
                    faults._sql()
                return super().execute(sql, *args)

            def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
                faults._sql()
                return super().executemany(sql, *args)

            def commit(self) -> None:
                faults._sql()
                super().commit()

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            kwargs.setdefault("factory", Connection)
            return real(*args, **kwargs)

        return connect

    def _sql(self) -> None:
        try:
            self.check("cache", "cache.sqlite3")
        except OSError:
            raise sqlite3.OperationalError("database or disk is full") from None


class _Stream:
    """The CSV's stream, each of its writes a "csv" step."""

    def __init__(self, stream: Any, faults: Faults) -> None:
        self._stream = stream
        self._faults = faults

    def write(self, text: str) -> int:
        self._faults.check("csv", self._stream.name)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def temporary_files(root: Path) -> list[Path]:
    """The partial files (catsort's hidden temporary names) left anywhere under ``root``."""
    return [
        Path(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if name.startswith(files.TEMP_PREFIX)
    ]
