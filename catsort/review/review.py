"""A review under way: each decision acted on through the sort session, an undo stack, and for
a CSV review the corrected CSV beside the original.

One thread at a time: the page's requests take turns (``Review`` holds a lock).
"""

from __future__ import annotations

import csv
import io
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catsort.errors import CatsortError, os_reason
from catsort.files import write_atomic
from catsort.metadata import OTHER
from catsort.review.export import ExportSummary, export_decisions
from catsort.review.items import OK, WHY_NOT, Item, shown_path, state_now
from catsort.review.sources import CSV, LIBRARY, Source
from catsort.session import Decision
from catsort.types import PERSON, PhotoResult

#: The column the corrected CSV adds: who gave the row its label, a person or the model.
DECIDED_BY = "decided_by"
MODEL = "model"
#: The corrected CSV's name, beside the original: ``results.csv`` -> ``results.reviewed.csv``.
REVIEWED = ".reviewed"


@dataclass
class ReviewSummary:
    """What a review did: photos decided per label (net of what was undone), files moved,
    sidecars changed, decisions that failed; the journal (once closed) and the corrected CSV."""

    decided: Counter = field(default_factory=Counter)
    moved: int = 0
    companions: int = 0
    tagged: int = 0
    failed: int = 0
    journal: Path | None = None
    reviewed_csv: Path | None = None
    #: What could not be written (the corrected CSV, the results cache, the journal's last
    #: line): one line each, naming the file.
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Photos decided in this review."""
        return sum(self.decided.values())


# A decision of this review: the photo's id, what was done, its person's label before.
_Done = tuple[int, Decision, str | None]


class Review:
    """A review of a library or a results CSV (``catsort.open_review`` opens one).

    ``items`` are its photos, in the order to look at them (``id`` is the index). ``decide``
    gives some of them a person's label, acting on each as the run would have; ``undo`` takes
    the last ``decide`` back. ``close`` (or a ``with`` block) closes the session: its journal,
    its cache, the library's lock.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.items = source.items
        self.labels = source.session.labels
        self._done: list[list[_Done]] = []
        self._failed = 0
        self._lock = threading.Lock()
        self._closed = False
        self._unsaved: str | None = None  # why the corrected CSV is behind the decisions

    @property
    def kind(self) -> str:
        """``"library"`` or ``"csv"``: what is reviewed."""
        return self.source.kind

    @property
    def folder(self) -> Path:
        """The folder reviewed: each item's ``shown`` path is relative to it."""
        return self.source.folder

    @property
    def choices(self) -> tuple[str, ...]:
        """The labels a person can give: the model's, and ``other`` (not a pet)."""
        return (*self.labels, OTHER)

    @property
    def reviewed_csv(self) -> Path | None:
        """Where a CSV review writes its corrected CSV: ``results.reviewed.csv``."""
        if self.kind != CSV:
            return None
        given = self.source.given
        stem = given.stem if given.stem.endswith(REVIEWED) else given.stem + REVIEWED
        return given.with_name(stem + given.suffix)

    @property
    def can_undo(self) -> bool:
        """Whether there is a decision of this review to take back."""
        return bool(self._done)

    def item(self, item_id: int) -> Item | None:
        """The photo with this id, or None."""
        if 0 <= item_id < len(self.items):
            return self.items[item_id]
        return None

    def decide(self, ids: Sequence[int], label: str) -> list[Item]:
        """Give the photos ``ids`` a person's ``label``; return them as they are now.

        A photo that moved or changed since the run is not decided (its ``state`` says why);
        one that could not be placed keeps its ``message``. Raises CatsortError for a label or
        an id that is not the review's.
        """
        if label not in self.choices:
            raise CatsortError(
                f"{label}: not a label here; choose one of {', '.join(self.choices)}"
            )
        with self._lock:
            items = self._items(ids)
            batch: list[_Done] = []
            for item in items:
                item.state = state_now(item)
                if item.state != OK:
                    item.message = WHY_NOT[item.state]
                    continue
                before = item.decided
                decision = self.source.session.decide(
                    PhotoResult(item.path, item.prediction), label
                )
                item.message = decision.after.error
                if not decision.acted:
                    self._failed += 1
                    continue
                self._moved(item, decision.where)
                item.decided = label
                batch.append((item.id, decision, before))
            if batch:
                self._done.append(batch)
                self._write_csv()
            return items

    def undo(self) -> list[Item]:
        """Take the last ``decide`` back (the photos back where they were, their sidecars and
        labels as they were); return the photos. One that cannot go back keeps its decision,
        with the reason in its ``message``, and ``undo`` again retries it."""
        with self._lock:
            if not self._done:
                return []
            batch = self._done.pop()
            kept: list[_Done] = []
            items = []
            for done in reversed(batch):
                item_id, decision, before = done
                item = self.items[item_id]
                items.append(item)
                try:
                    self.source.session.undo_decision(decision)
                except CatsortError as exc:
                    item.message = str(exc)
                    kept.append(done)
                    continue
                self._moved(item, decision.before.path)
                item.decided, item.message = before, None
            if kept:
                self._done.append(list(reversed(kept)))
            self._write_csv()
            return items

    def summary(self) -> ReviewSummary:
        """What this review did so far (the journal, once it is closed)."""
        summary = ReviewSummary(failed=self._failed, reviewed_csv=self.reviewed_csv)
        for batch in self._done:
            for _, decision, _ in batch:
                summary.decided[decision.label] += 1
                moved = [p for p in decision.placements if p.source != p.target]
                if moved:
                    summary.moved += 1
                    summary.companions += len(moved) - 1
                if decision.sidecar is not None:
                    summary.tagged += 1
        if summary.reviewed_csv is not None and not summary.reviewed_csv.is_file():
            summary.reviewed_csv = None
        summary.journal = self.source.session.summary.journal
        summary.problems = [
            *([self._unsaved] if self._unsaved is not None else []),
            *self.source.session.summary.problems,
        ]
        return summary

    def export(self, out: Path) -> ExportSummary:
        """Write the photos a person labelled into class folders ``out/<label>/`` (hard links
        where the file system allows, else copies) that ``catsort train --data`` takes."""
        with self._lock:
            return export_decisions(self.items, self.labels, Path(out))

    def close(self) -> None:
        """Close the session (its journal and cache) and release the lock."""
        if not self._closed:
            self._closed = True
            self.source.close()

    def __enter__(self) -> Review:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _items(self, ids: Sequence[int]) -> list[Item]:
        items = []
        for item_id in dict.fromkeys(ids):  # each once, in order
            item = self.item(item_id) if isinstance(item_id, int) else None
            if item is None:
                raise CatsortError(f"{item_id!r}: no such photo in this review")
            items.append(item)
        return items

    def _moved(self, item: Item, path: Path) -> None:
        item.path = path
        if self.kind == LIBRARY:
            item.shown = shown_path(path, self.folder)

    @property
    def unsaved(self) -> str | None:
        """Why the corrected CSV lacks the latest decisions (it could not be written: a full
        disk), or None. The decisions stand, and each later one writes them all again."""
        return self._unsaved

    def _write_csv(self) -> None:
        """Write the corrected CSV (a CSV review): the same rows, a person's labels in place of
        the model's, and who decided each; all or nothing. One that cannot be written is
        ``unsaved``: said on the page and when the review ends."""
        target = self.reviewed_csv
        if target is None:
            return
        header = list(self.source.header)
        if DECIDED_BY not in header:
            header.append(DECIDED_BY)
        label_at, decided_at = header.index("label"), header.index(DECIDED_BY)
        rows = [row + [""] * (len(header) - len(row)) for row in self.source.rows]
        for row in rows:
            if row[header.index("status")] == "ok" and not row[decided_at]:
                row[decided_at] = MODEL
        for item in self.items:
            if item.row is not None and item.decided is not None:
                rows[item.row][label_at] = item.decided
                rows[item.row][decided_at] = PERSON
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(rows)
        data = text.getvalue().encode("utf-8", "surrogateescape")
        try:
            write_atomic(target, data, replace=True)
        except OSError as exc:
            # The decisions stand (and are in the cache): the next one writes them all again.
            self._unsaved = (
                f"{target}: cannot write the corrected CSV ({os_reason(exc)}); it lacks the "
                "latest decisions"
            )
            return
        self._unsaved = None


def check_reviewed_csv(review: Review) -> None:
    """Refuse a review whose corrected CSV's name is taken by something else than a CSV."""
    target = review.reviewed_csv
    if target is None or not os.path.lexists(target):
        return
    try:
        with open(target, "rb") as file:
            head = file.read(64).removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        raise CatsortError(f"{target}: cannot read it ({exc.strerror})") from None
    if not head.startswith(b"path,label,confidence,"):
        raise CatsortError(
            f"{target}: already exists and is not a catsort results CSV; catsort review writes "
            "its corrected CSV there: move it away first"
        )
