"""A job: the runs of one --move/--copy command until one of them finishes the walk.

A run killed part way (or stopped with Ctrl-C) leaves ``<dest>/.catsort/job.json`` unfinished;
the same command run again (same inputs, action and --other-dest) resumes that job: its CSV
lists the photos the earlier runs of the job moved as well, and its closing message names what
undoes the whole job. Any other command into the destination starts a new job.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from catsort import files
from catsort.errors import CatsortError, WriteFailed, os_reason
from catsort.sorting.journal import JOURNAL_DIR, Journal
from catsort.sorting.place import MOVE

JOB_NAME = "job.json"


@dataclass(frozen=True)
class EarlierMove:
    """A photo an earlier run of the job moved: from ``source`` to ``target``."""

    source: Path
    target: Path


@dataclass
class Job:
    """The job a run belongs to, and the journals of its runs (oldest first, names only)."""

    dest: Path
    command: dict
    journals: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def folder(self) -> Path:
        """The folder holding the journals and the job file."""
        return self.dest / JOURNAL_DIR

    def journal_paths(self) -> list[Path]:
        """The journals of the job that are still there, newest first."""
        paths = [self.folder / name for name in reversed(self.journals)]
        return [path for path in paths if path.is_file()]

    def add(self, journal: Path) -> None:
        """Count this run's journal in the job, before it records anything."""
        self.journals.append(Path(journal).name)
        self._save(finished=False)

    def finish(self) -> None:
        """Mark the job done: the walk went through to its end."""
        self._save(finished=True)

    def earlier_moves(self) -> list[EarlierMove]:
        """The photos earlier runs of this job moved and that are still in their new place."""
        if not self.resumed:
            return []
        moves: list[EarlierMove] = []
        for path in reversed(self.journal_paths()):  # oldest first, the order they were moved
            try:
                with Journal.open(path) as journal:
                    entries = sorted(journal.entries.values(), key=lambda e: e.n)
            except CatsortError:
                continue  # unreadable or busy: its photos are listed where they are
            moves.extend(
                EarlierMove(entry.source, entry.target)
                for entry in entries
                if entry.op == MOVE
                and entry.state == "done"
                and entry.group in (None, entry.n)  # a photo, not a companion that went with it
                and os.path.lexists(entry.target)
            )
        return moves

    def _save(self, finished: bool) -> None:
        record = {**self.command, "journals": self.journals, "finished": finished}
        path = self.folder / JOB_NAME
        data = (json.dumps(record, indent=1) + "\n").encode("utf-8")
        try:
            files.write_atomic(path, data, replace=True)  # all or nothing, even if killed here
        except OSError as exc:
            raise WriteFailed(f"{path}: cannot write the job file ({os_reason(exc)})") from None


def start_job(dest: Path, inputs: list[Path], action: str, other_dest: Path | None = None) -> Job:
    """The job a run with these options belongs to: the unfinished one it repeats, or a new one."""
    dest = Path(dest)
    base = os.path.abspath(dest)

    def relative(path: Path) -> str:
        try:
            return os.path.relpath(os.path.abspath(path), base)
        except ValueError:  # another drive
            return os.path.abspath(path)

    command = {
        "action": action,
        "inputs": sorted(relative(path) for path in inputs),
        "other_dest": None if other_dest is None else relative(other_dest),
    }
    earlier = _read(dest / JOURNAL_DIR / JOB_NAME)
    if (
        earlier is not None
        and earlier.get("finished") is False
        and all(earlier.get(key) == value for key, value in command.items())
        and isinstance(earlier.get("journals"), list)
    ):
        names = [
            name
            for name in earlier["journals"]
            if isinstance(name, str)
            and name == os.path.basename(name)
            and name.endswith(".jsonl")
            and not _undone(dest / JOURNAL_DIR / name)  # undo --all put that run back already
        ]
        if names:
            return Job(dest, command, names, resumed=True)
    return Job(dest, command)


@dataclass(frozen=True)
class JobCommand:
    """What the last --move/--copy command into a destination was: its action, its inputs and
    its other_dest (absolute)."""

    action: str
    inputs: tuple[Path, ...]
    other_dest: Path | None


def last_command(dest: Path) -> JobCommand | None:
    """The command of the last job into ``dest`` (finished or not), or None when there is none
    that can be read."""
    record = _read(Path(dest) / JOURNAL_DIR / JOB_NAME)
    if record is None:
        return None
    action, inputs, other = record.get("action"), record.get("inputs"), record.get("other_dest")
    if (
        not isinstance(action, str)
        or not isinstance(inputs, list)
        or not all(isinstance(item, str) for item in inputs)
        or not (other is None or isinstance(other, str))
    ):
        return None

    def absolute(recorded: str) -> Path:
        return Path(os.path.normpath(os.path.join(os.path.abspath(dest), recorded)))

    return JobCommand(
        action, tuple(map(absolute, inputs)), None if other is None else absolute(other)
    )


def _undone(journal: Path) -> bool:
    """Tell whether a journal's last line says it was undone."""
    try:
        lines = journal.read_bytes().splitlines()
    except OSError:
        return False
    try:
        last = json.loads(lines[-1]) if lines else None
    except ValueError:
        return False
    return isinstance(last, dict) and last.get("state") == "undone"


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
