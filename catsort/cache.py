"""The results cache: what the model said about each photo, so that a run classifies only news.

One SQLite file in WAL mode (safe with concurrent readers, and a crash mid-write loses at most
the last uncommitted rows): ``<dest>/.catsort/cache.sqlite3`` for a --move/--copy run, or a file
in the user's cache folder for a run that only writes a CSV (``cache_location``), unless the
folder it reads is in a library a --move/--copy run sorted: then it uses that library's.

A row is keyed by the photo's path relative to the cache's base folder, its size, its
modification time in nanoseconds and the model's fingerprint (``fingerprint``: the hash of the
model file and what shapes its input and output). It holds the model's raw outputs, its logits
and pet score, or the reason the photo was skipped (too small to tell: the same bytes are always
skipped). A video's row holds its frames' scores combined (``decision.combine_frames``, which
no threshold changes) and how many frames they come from. The label is decided again from the
logits with each run's thresholds, which cost nothing, so a new --threshold or --gate-threshold
needs no photo classified again. Errors are never cached: a file fixed later is tried again.

A cache that cannot be read or written is never the run's problem: it is a one-line warning, and
the run goes on with a fresh cache or without one.

It also keeps what a person decided (``catsort review``): a photo's label, for its bytes, whatever
the model says, under any model. A decision follows the photo when catsort moves or copies it
(``placed``), and when it is renamed or moved by anything else (``catsort undo``, a file
manager): a photo the cache does not know by its path is looked up by its size and modification
time, and taken for the decided one when the first MiB of both hash the same and the decided
one is gone from its place.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from catsort.version import __version__

if TYPE_CHECKING:
    from catsort.model import Classifier

#: The cache file beside the journals, in ``<dest>/.catsort/``.
CACHE_NAME = "cache.sqlite3"
#: Bump when what a row means changes (decoding, what is stored): older rows stop matching.
CACHE_VERSION = 1
_SCHEMA = 1
# Rows are committed in groups: a commit is cheap in WAL mode, but not free.
_COMMIT_ROWS = 256
_COMMIT_SECONDS = 0.5
# A renamed photo is recognised by the hash of its first bytes (with its size and mtime).
_HEAD_BYTES = 1 << 20

OnWarning = Callable[[str], None]


@dataclass(frozen=True)
class Stamp:
    """A photo as the cache knows it: its key (path relative to the base), size and mtime."""

    key: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Known:
    """What the model said about a photo or a video, before any threshold; or why it was skipped."""

    logits: tuple[float, ...] = ()
    pet_score: float | None = None
    skipped: str | None = None
    frames: int | None = None  # a video's: how many frames the scores come from


def fingerprint(classifier: Classifier) -> str:
    """The model's fingerprint: its file's hash and what shapes its input and outputs.

    Thresholds are not part of it: the label is decided again from the cached logits.
    """
    metadata = classifier.metadata
    parts = [
        CACHE_VERSION,
        __version__,  # a new version may decode photos differently
        classifier.digest,
        list(metadata.labels),
        metadata.activation,
        list(metadata.input_size),
        classifier.has_gate,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def head_digest(path: Path) -> str | None:
    """The hash of a file's size and first MiB: what tells a renamed photo from another one."""
    try:
        with open(path, "rb") as file:
            head = file.read(_HEAD_BYTES)
            size = os.fstat(file.fileno()).st_size
    except OSError:
        return None
    return hashlib.sha256(str(size).encode() + b"\0" + head).hexdigest()


def user_cache_dir() -> Path:
    """The user's cache folder for catsort (``$XDG_CACHE_HOME/catsort`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("catsort", appauthor=False))


def cache_location(base: Path) -> Path:
    """Where a CSV-only run over ``base`` keeps its cache: the user's cache folder, one file per
    folder (named by the folder's resolved path), so that nothing is written among the photos."""
    resolved = os.path.realpath(base)
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:24]
    return user_cache_dir() / "results" / f"{digest}.sqlite3"


class ResultsCache:
    """An open results cache; every method may be called from any thread."""

    def __init__(
        self,
        path: Path,
        base: Path,
        model: str,
        connection: sqlite3.Connection,
        refresh: bool = False,
        on_warning: OnWarning | None = None,
        on_failure: OnWarning | None = None,
    ) -> None:
        self.path = path
        self.model = model
        self.refresh = refresh
        self._base = os.path.abspath(base)
        self._db: sqlite3.Connection | None = connection
        self._on_warning = on_warning
        self._on_failure = on_failure or on_warning
        #: Why the cache stopped taking writes part way (a full disk), or None while it works.
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._last_commit = time.monotonic()
        # Looked up only where a person decided something: no cost for those who never review.
        self._has_decisions = _has_decisions(connection)

    @classmethod
    def open(
        cls,
        path: Path,
        base: Path,
        model: str,
        *,
        refresh: bool = False,
        create: bool = True,
        on_warning: OnWarning | None = None,
        on_failure: OnWarning | None = None,
    ) -> ResultsCache | None:
        """Open (or create) the cache at ``path``; None, after a warning, if it cannot be used.

        A file that is not a usable cache is replaced by a fresh one (``on_warning`` says so).
        One that cannot be written (a full disk, a read-only one), then or later, is said to
        ``on_failure`` (by default ``on_warning``). ``create=False`` opens only a cache that is
        already there (a dry run creates nothing).
        """
        path = Path(path)
        on_failure = on_failure or on_warning
        existed = path.is_file()
        if not create and not existed:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _warn(
                on_failure,
                f"{path}: cannot create the results cache ({exc.strerror}); running without it",
            )
            return None
        try:
            connection = _connect(path, base)
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                _warn(on_warning, f"{path}: results cache busy ({exc}); running without it")
                return None
            if _cannot_write(exc):  # a full or read-only disk: a fresh file would not help
                _warn(
                    on_failure,
                    f"{path}: cannot write the results cache ({exc}); running without it",
                )
                return None
            try:
                _remove_database(path)
                connection = _connect(path, base)
            except (OSError, sqlite3.Error) as again:
                unwritable = isinstance(again, sqlite3.Error) and _cannot_write(again)
                _warn(
                    on_failure if unwritable else on_warning,
                    f"{path}: unusable results cache ({exc}), and no fresh one "
                    f"could be made ({again}); running without it",
                )
                return None
            _warn(on_warning, f"{path}: unreadable results cache ({exc}); started a fresh one")
            existed = False
        if not existed:
            _carry_decisions(connection, cache_location(base), path)
        return cls(path, base, model, connection, refresh, on_warning, on_failure)

    def stamp(self, path: Path) -> Stamp | None:
        """The key, size and mtime of the file at ``path``, or None if it cannot be read."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return Stamp(self.key(path), st.st_size, st.st_mtime_ns)

    def key(self, path: Path) -> str:
        """``path`` relative to the base folder (absolute where it cannot be: another drive)."""
        absolute = os.path.abspath(path)
        try:
            return os.path.relpath(absolute, self._base)
        except ValueError:
            return absolute

    def lookup(self, paths: Sequence[Path]) -> list[tuple[Stamp | None, Known | None]]:
        """Each path's stamp and what the cache knows of it (None: classify it)."""
        stamps = [self.stamp(path) for path in paths]
        if self.refresh:
            return [(stamp, None) for stamp in stamps]
        with self._lock:
            return [(stamp, None if stamp is None else self._get(stamp)) for stamp in stamps]

    def get(self, path: Path) -> Known | None:
        """What the cache knows of the file at ``path`` as it is now (None if nothing)."""
        return self.lookup([path])[0][1]

    def put(self, items: Sequence[tuple[Stamp, Known]]) -> None:
        """Remember what the model said about these photos (as stamped before decoding)."""
        if not items:
            return
        rows = [
            (
                _db_key(stamp.key),
                self.model,
                stamp.size,
                stamp.mtime_ns,
                json.dumps(known.logits) if known.skipped is None else None,
                known.pet_score,
                known.skipped,
                known.frames,
            )
            for stamp, known in items
        ]
        with self._lock:
            self._execute_many(
                "INSERT OR REPLACE INTO results "
                "(path, model, size, mtime_ns, logits, pet_score, skipped, frames) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def placed(self, source: Path, target: Path, moved: bool) -> None:
        """Carry a photo's row to where a move or copy put it, so its new path is known too."""
        try:
            st = os.stat(target)
        except OSError:
            return
        old, new = self.key(source), self.key(target)
        if old == new:
            return
        # Only a row that describes these very bytes (moves and copies keep size and mtime).
        where = "WHERE path = ? AND size = ? AND mtime_ns = ?"
        row = [(_db_key(new), _db_key(old), st.st_size, st.st_mtime_ns)]
        with self._lock:
            if moved:
                self._execute_many(f"UPDATE OR REPLACE results SET path = ? {where}", row)
            else:
                self._execute_many(
                    "INSERT OR REPLACE INTO results "
                    "(path, model, size, mtime_ns, logits, pet_score, skipped, frames) "
                    "SELECT ?, model, size, mtime_ns, logits, pet_score, skipped, frames "
                    f"FROM results {where}",
                    row,
                )
            if self._has_decisions:  # a person's label goes with the photo, and its copies
                if moved:
                    self._execute_many(f"UPDATE OR REPLACE decisions SET path = ? {where}", row)
                else:
                    self._execute_many(
                        "INSERT OR REPLACE INTO decisions "
                        "(path, label, size, mtime_ns, head, decided) "
                        f"SELECT ?, label, size, mtime_ns, head, decided FROM decisions {where}",
                        row,
                    )

    def changed(self, stamp: Stamp | None) -> bool:
        """Whether the photo ``stamp`` describes changed since a run classified it: the cache
        knows its path, under any model, but only with other bytes (False where it knows it as
        it is now, or not at all)."""
        if stamp is None or self._db is None:
            return False
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT size, mtime_ns FROM results WHERE path = ?", (_db_key(stamp.key),)
                ).fetchall()
            except sqlite3.Error as exc:
                self._failed(exc)
                return False
        return bool(rows) and (stamp.size, stamp.mtime_ns) not in {tuple(row) for row in rows}

    # --- what a person decided ---------------------------------------------------------------

    def decide(self, path: Path, label: str) -> None:
        """Remember a person's label for the photo at ``path`` as it is now (committed at once:
        a person's word is not left to a crash)."""
        stamp, head = self.stamp(path), head_digest(path)
        if stamp is None or head is None:
            _warn(self._on_warning, f"{path}: cannot be read; its label is not remembered")
            return
        decided = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with self._lock:
            self._execute_many(
                "INSERT OR REPLACE INTO decisions (path, label, size, mtime_ns, head, decided) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(_db_key(stamp.key), label, stamp.size, stamp.mtime_ns, head, decided)],
            )
            self._has_decisions = True
            self._commit()

    def undecide(self, path: Path) -> None:
        """Forget a person's label for the photo at ``path`` (a decision taken back)."""
        with self._lock:
            self._execute_many("DELETE FROM decisions WHERE path = ?", [(_db_key(self.key(path)),)])
            self._commit()

    def decision(self, path: Path) -> str | None:
        """The label a person gave the photo at ``path`` as it is now, or None."""
        return self.decided([self.stamp(path)])[0]

    def decided(self, stamps: Sequence[Stamp | None]) -> list[str | None]:
        """The label a person gave each photo (as stamped), or None: by its path, or else as
        the decided photo renamed (same size, mtime and first MiB, gone from its old place),
        whose decision then moves to its new path."""
        if not self._has_decisions:
            return [None] * len(stamps)
        with self._lock:
            return [None if stamp is None else self._decided(stamp) for stamp in stamps]

    def decisions(self) -> list[tuple[Path, str]]:
        """Every photo a person decided, where the cache last saw it, with its label."""
        if not self._has_decisions or self._db is None:
            return []
        with self._lock:
            try:
                query = "SELECT path, label FROM decisions ORDER BY path"
                rows = self._db.execute(query).fetchall()
            except sqlite3.Error as exc:
                self._failed(exc)
                return []
        return [(self._path_of(os.fsdecode(key)), label) for key, label in rows]

    def _decided(self, stamp: Stamp) -> str | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT label FROM decisions WHERE path = ? AND size = ? AND mtime_ns = ?",
                (_db_key(stamp.key), stamp.size, stamp.mtime_ns),
            ).fetchone()
            if row is not None:
                return str(row[0])
            candidates = self._db.execute(
                "SELECT path, label, head FROM decisions WHERE size = ? AND mtime_ns = ?",
                (stamp.size, stamp.mtime_ns),
            ).fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None
        path = self._path_of(stamp.key)
        for key, label, head in candidates:
            old = self._path_of(os.fsdecode(key))
            if self.stamp(old) == Stamp(os.fsdecode(key), stamp.size, stamp.mtime_ns):
                continue  # still there: a copy, not the decided photo moved
            if head_digest(path) == head:
                self._execute_many(
                    "UPDATE OR REPLACE decisions SET path = ? WHERE path = ?",
                    [(_db_key(stamp.key), key)],
                )
                return str(label)
        return None

    def _path_of(self, key: str) -> Path:
        """The path a key names (keys are relative to the base, or absolute)."""
        return Path(os.path.normpath(os.path.join(self._base, key)))

    def _commit(self) -> None:
        if self._db is None:
            return
        try:
            self._db.commit()
            self._pending, self._last_commit = 0, time.monotonic()
        except sqlite3.Error as exc:
            self._failed(exc)

    def close(self) -> None:
        """Commit what is left and close the file."""
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.commit()
                self._db.close()
            except sqlite3.Error as exc:
                self._failed(exc)
            self._db = None

    def __enter__(self) -> ResultsCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(self, stamp: Stamp) -> Known | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT logits, pet_score, skipped, frames FROM results "
                "WHERE path = ? AND model = ? AND size = ? AND mtime_ns = ?",
                (_db_key(stamp.key), self.model, stamp.size, stamp.mtime_ns),
            ).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None
        if row is None:
            return None
        logits, pet_score, skipped, frames = row
        frames = None if frames is None else int(frames)
        if skipped is not None:
            return Known(skipped=skipped, frames=frames)
        try:
            values = tuple(float(value) for value in json.loads(logits))
        except (TypeError, ValueError):
            return None  # a row this version cannot read: classify the photo again
        return Known(values, None if pet_score is None else float(pet_score), frames=frames)

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        if self._db is None:
            return
        try:
            self._db.executemany(sql, rows)
            self._pending += len(rows)
            now = time.monotonic()
            if self._pending >= _COMMIT_ROWS or now - self._last_commit >= _COMMIT_SECONDS:
                self._db.commit()
                self._pending, self._last_commit = 0, now
        except sqlite3.Error as exc:
            self._failed(exc)

    def _failed(self, exc: sqlite3.Error) -> None:
        """Stop using the cache for the rest of the run (a full disk, a file gone bad): said
        once, and the run goes on without it."""
        self.failure = f"{self.path}: results cache failed ({exc})"
        _warn(self._on_failure, f"{self.failure}; going on without it")
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass


def _connect(path: Path, base: Path) -> sqlite3.Connection:
    """Open the file, in WAL mode, with the table; raise sqlite3.Error if it is no cache."""
    connection = sqlite3.connect(path, timeout=10, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL stays consistent after a crash; a power cut may lose the last rows.
        connection.execute("PRAGMA synchronous=NORMAL")
        check = connection.execute("PRAGMA quick_check(1)").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"damaged ({check[0] if check else 'no answer'})")
        with connection:
            connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
            schema = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if schema is not None and schema[0] != _SCHEMA:
                connection.execute("DROP TABLE IF EXISTS results")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS results ("
                "path BLOB NOT NULL, model TEXT NOT NULL, size INTEGER NOT NULL, "
                "mtime_ns INTEGER NOT NULL, logits TEXT, pet_score REAL, skipped TEXT, "
                "frames INTEGER, PRIMARY KEY (path, model))"
            )
            # What a person decided: for these bytes, under any model.
            connection.execute(
                "CREATE TABLE IF NOT EXISTS decisions ("
                "path BLOB PRIMARY KEY, label TEXT NOT NULL, size INTEGER NOT NULL, "
                "mtime_ns INTEGER NOT NULL, head TEXT NOT NULL, decided TEXT NOT NULL)"
            )
            connection.execute(
                "CREATE INDEX IF NOT EXISTS decisions_stamp ON decisions (size, mtime_ns)"
            )
            # Caches made before videos were read keep their rows (photos: no frames).
            found = {info[1] for info in connection.execute("PRAGMA table_info(results)")}
            if "frames" not in found:
                connection.execute("ALTER TABLE results ADD COLUMN frames INTEGER")
            connection.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("schema", _SCHEMA), ("base", os.path.abspath(base))],
            )
    except BaseException:
        connection.close()
        raise
    return connection


def _cannot_write(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of a writable disk (full, read-only, failing), not for a
    damaged file: a fresh file would fail the same way."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11 and later
    if code is not None:
        return (code & 0xFF) in _CANNOT_WRITE  # an extended code keeps the primary one below
    text = str(exc).lower()
    return any(words in text for words in ("disk is full", "readonly", "disk i/o"))


# SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR (the sqlite3 module names them from Python 3.11).
_CANNOT_WRITE = {13, 8, 10}


def _has_decisions(connection: sqlite3.Connection) -> bool:
    try:
        return connection.execute("SELECT EXISTS (SELECT 1 FROM decisions)").fetchone()[0] == 1
    except sqlite3.Error:
        return False  # the table is made on connecting; a failure shows on the next use


def _carry_decisions(connection: sqlite3.Connection, earlier: Path, path: Path) -> None:
    """Copy a person's decisions from the cache a CSV-only run over the same folder kept
    (``earlier``) into a library's new cache: a review of its CSV still counts once the library
    is sorted. Their keys are relative to the same folder."""
    if os.path.abspath(earlier) == os.path.abspath(path) or not earlier.is_file():
        return
    try:
        connection.execute("ATTACH DATABASE ? AS earlier", (os.fspath(earlier),))
    except sqlite3.Error:
        return  # no earlier cache to read: nothing to carry
    try:
        with connection:
            connection.execute("INSERT OR IGNORE INTO decisions SELECT * FROM earlier.decisions")
    except sqlite3.Error:
        pass  # an earlier cache without decisions (or damaged): nothing to carry
    finally:
        try:
            connection.execute("DETACH DATABASE earlier")
        except sqlite3.Error:
            pass


def _db_key(key: str) -> bytes:
    """A key as stored: the path's bytes, so names that are not UTF-8 are kept as they are."""
    return os.fsencode(key)


def _remove_database(path: Path) -> None:
    """Remove a cache file that is not one, with its WAL files."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def _warn(on_warning: OnWarning | None, message: str) -> None:
    if on_warning is not None:
        on_warning(message)
