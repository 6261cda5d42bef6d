"""What a review opens: a library catsort sorted or tagged, or the results CSV of a run that only
classified; each as a sort session that acts on a person's decisions as that run would have,
and the photos to show.

A library's journals say what its runs did (moves, copies, sidecars) and its job file with what
command; the photos are read again through the results cache (nothing is decoded twice), label
folders included. A CSV's rows are the photos; its session only remembers, in the results cache
the run kept.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from catsort.cache import CACHE_NAME, cache_location
from catsort.decision import Prediction
from catsort.errors import CatsortError
from catsort.model import Classifier
from catsort.plan import make_plan
from catsort.report.read import is_parquet, read_results
from catsort.report.summary import locate_image
from catsort.review.items import (
    CHANGED,
    MISSING,
    OK,
    Item,
    model_label_of,
    review_order,
    shown_path,
    stamp_of,
)
from catsort.run import classify_inputs
from catsort.session import SortSession
from catsort.sorting.jobs import last_command
from catsort.sorting.journal import JOURNAL_DIR, Journal, done_placements, journals_newest_first
from catsort.sorting.lock import DestinationLock
from catsort.tagging.sidecar import OP as SIDECAR_OP
from catsort.tagging.sidecar import TagSettings
from catsort.tagging.tagger import tag_prefix
from catsort.types import COPY, MOVE, PhotoResult, RunSettings, SortPlan

#: What a review is of.
LIBRARY = "library"
CSV = "csv"


@dataclass
class Source:
    """An opened review source: its session (holding the lock), the photos, what is left out."""

    kind: str  # LIBRARY or CSV
    given: Path  # the folder or CSV given
    folder: Path  # the folder reviewed: photos are shown by their path relative to it
    session: SortSession
    items: list[Item]
    left_out: int = 0  # results with no label to settle (unreadable, too small)
    header: list[str] = field(default_factory=list)  # a CSV's header and rows, as written
    rows: list[list[str]] = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)  # the session, a CSV review's lock

    def close(self) -> None:
        """Close the session and release the lock."""
        self.stack.close()


OnPhoto = Callable[[PhotoResult], None]


def open_source(
    given: Path,
    classifier: Classifier,
    settings: RunSettings | None = None,
    on_photo: OnPhoto | None = None,
) -> Source:
    """Open a library folder or a results CSV for review; raise CatsortError (a second review
    of the same library: DestinationBusy) for what cannot be reviewed."""
    given = Path(given)
    settings = settings if settings is not None else RunSettings()
    if not os.path.exists(given):
        raise CatsortError(f"{given}: no such file or folder")
    if is_parquet(given):
        raise CatsortError(
            f"{given}: the Ray engine's Parquet results; catsort review takes a library catsort "
            "sorted or tagged, or a results CSV"
        )
    if given.is_dir():
        return open_library(given, classifier, settings, on_photo)
    return open_csv(given, classifier, settings)


# --- a library ------------------------------------------------------------------------------


def open_library(
    folder: Path,
    classifier: Classifier,
    settings: RunSettings,
    on_photo: OnPhoto | None = None,
) -> Source:
    """Open a library a --move or --copy run sorted into, or a --tag run tagged."""
    labels = classifier.metadata.labels
    journals = journals_newest_first(folder / JOURNAL_DIR)
    if not journals:
        raise CatsortError(
            f"{folder}: no catsort run sorted or tagged this folder (no journals in "
            f"{folder / JOURNAL_DIR}); to review a run that only wrote a CSV, give its CSV"
        )
    ops, sidecars = _what_was_done(journals)
    command = last_command(folder)
    action = command.action if command is not None else None
    if action is None:
        action = MOVE if MOVE in ops else COPY if COPY in ops else None
    if action is None and SIDECAR_OP not in ops:
        raise CatsortError(f"{folder}: its journals moved, copied or tagged nothing to review")
    inputs = [p for p in command.inputs if os.path.isdir(p)] if command is not None else []
    inputs = inputs or [folder]
    other_dest = command.other_dest if command is not None else None
    plan = (
        make_plan(inputs, action, dest=folder, other_dest=other_dest, labels=labels)
        if action is not None
        else SortPlan()
    )
    given = _outermost(
        [folder, *inputs, *([other_dest] if other_dest and other_dest.is_dir() else [])]
    )
    tagging = None
    if SIDECAR_OP in ops:
        prefix = next((p for p in map(tag_prefix, sidecars) if p is not None), None)
        tagging = TagSettings() if prefix is None else TagSettings(prefix=prefix)
    session = SortSession(classifier, plan, settings, given=given, tagging=tagging, resumable=False)
    source = Source(LIBRARY, folder, folder, session, [])
    source.stack.enter_context(session)
    try:
        source.items, source.left_out = _library_items(source, given, action, on_photo)
    except BaseException:
        source.close()
        raise
    return source


def _what_was_done(journals: list[Path]) -> tuple[set[str], list[Path]]:
    """The kinds of operation the journals carried out, and a few sidecars they wrote."""
    ops: set[str] = set()
    sidecars: list[Path] = []
    for path in journals:
        try:
            with Journal.open(path) as journal:
                ops |= {entry.op for entry in journal.entries.values() if entry.state == "done"}
                for record in journal.records:
                    if record.get("op") == SIDECAR_OP and isinstance(record.get("sidecar"), str):
                        ops.add(SIDECAR_OP)
                        if len(sidecars) < 5:
                            sidecars.append(journal.resolve(record["sidecar"]))
        except CatsortError:
            continue  # unreadable: the others say enough
    return ops, sidecars


def _outermost(folders: list[Path]) -> list[Path]:
    """The folders, without those inside another of them (each walked once)."""
    real = {folder: os.path.realpath(folder) for folder in folders}
    kept: list[Path] = []
    for folder in folders:
        inside = any(
            other is not folder
            and (real[folder] + os.sep).startswith(real[other].rstrip(os.sep) + os.sep)
            and (real[folder] != real[other] or folders.index(other) < folders.index(folder))
            for other in folders
        )
        if not inside:
            kept.append(folder)
    return kept


def _library_items(
    source: Source, walk: list[Path], action: str | None, on_photo: OnPhoto | None
) -> tuple[list[Item], int]:
    """The photos of a library, read again through the results cache: label folders too."""
    session = source.session
    # A --copy library: the originals that have their copy in a label folder are shown once,
    # as the copy.
    copied = set()
    if action == COPY:
        leave_out = session.journal.path if session.journal is not None else None
        for entry in done_placements(source.folder, leave_out).values():
            if entry.op == COPY and os.path.lexists(entry.target):
                copied.add(os.path.abspath(entry.source))
    results = classify_inputs(
        walk, session.classifier, session.settings, (), session.finder, None, session.cache
    )
    items, left_out = [], 0
    for result in results:
        if on_photo is not None:
            on_photo(result)
        if os.path.abspath(result.path) in copied:
            continue
        if result.prediction is None:
            left_out += 1
            continue
        items.append(
            Item(
                0,
                result.path,
                shown_path(result.path, source.folder),
                result.prediction,
                model_label_of(result.prediction, result.decided_by),
                result.label if result.decided_by is not None else None,
                OK,
                stamp_of(result.path),
            )
        )
    return review_order(items), left_out


# --- a results CSV --------------------------------------------------------------------------


def open_csv(path: Path, classifier: Classifier, settings: RunSettings) -> Source:
    """Open the results CSV of a run that only classified."""
    results = read_results(path)
    labels = classifier.metadata.labels
    if tuple(results.labels) != tuple(labels):
        raise CatsortError(
            f"{path}: its labels ({', '.join(results.labels)}) are not the model's "
            f"({', '.join(labels)}); give the model that made it with --model"
        )
    header, rows = _raw_rows(path)
    if len(rows) != len(results.rows):
        raise CatsortError(f"{path}: its rows could not be read twice the same; try again")
    located = [locate_image(row, path) if row.ok else None for row in results.rows]
    found = [os.path.abspath(where.parent) for where in located if where is not None]
    folder = Path(os.path.commonpath(found)) if found else Path(os.path.abspath(path)).parent
    base = _cache_folder(folder)
    stack = ExitStack()
    try:
        # One review of a library at a time, as with a sorted one: the same lock.
        stack.enter_context(DestinationLock.acquire(base / JOURNAL_DIR))
        session = SortSession(classifier, SortPlan(), settings, given=[base], resumable=False)
        stack.enter_context(session)
        items, left_out = [], 0
        for number, (row, where) in enumerate(zip(results.rows, located)):
            if not row.ok:
                left_out += 1
                continue
            prediction = Prediction(row.label, row.confidence or 0.0, row.probs, row.pet_score)
            item = Item(0, Path(row.path), row.path, prediction, row.label, row=number)
            if where is None:
                item.state = MISSING
            else:
                item.path, item.shown = where, shown_path(where, folder)
                cache = session.cache
                stamp = cache.stamp(where) if cache is not None else None
                if cache is None or stamp is None:
                    item.stamp = stamp_of(where)
                else:  # one stat for all three
                    item.stamp = (stamp.size, stamp.mtime_ns)
                    item.decided = cache.decided([stamp])[0]
                    if cache.changed(stamp):
                        item.state = CHANGED
            items.append(item)
    except BaseException:
        stack.close()
        raise
    return Source(CSV, path, folder, session, review_order(items), left_out, header, rows, stack)


def _raw_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV's header and rows, cell for cell as written (for the corrected copy)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            reader: Iterator[list[str]] = csv.reader(file)
            header = next(reader, [])
            return header, [row for row in reader if row]
    except (OSError, csv.Error) as exc:
        raise CatsortError(f"{path}: unreadable CSV ({exc})") from None


def _cache_folder(folder: Path) -> Path:
    """The folder whose results cache a CSV-only run over ``folder`` used, as the session finds
    caches: a sorted library's around it, else the nearest folder with one in the user's cache
    folder (the run may have been given a folder above the photos); else ``folder``."""
    for candidate in (folder, *folder.parents):
        if (candidate / JOURNAL_DIR / CACHE_NAME).is_file():
            return candidate
    for candidate in (folder, *folder.parents):
        if cache_location(candidate).is_file():
            return candidate
    return folder
