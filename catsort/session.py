"""The sort session: the one object that owns a run's resources and puts each result in place.

Every caller that sorts (``catsort classify``, ``catsort watch``, the Python API) classifies
photos and hands each result to a session, which moves or copies it with its companions per
the plan, tags it, counts it and reports it. The session opens the destination's lock, settles
what an interrupted run left, joins the job (resume), opens the results cache and the journal,
in that order, and closes them in the reverse one.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from catsort.cache import CACHE_NAME, ResultsCache, cache_location, fingerprint
from catsort.errors import FAILED, CatsortError, WriteFailed, without_path
from catsort.metadata import OTHER
from catsort.model import Classifier
from catsort.plan import check_plan, journal_root
from catsort.sorting.companions import CompanionFinder, companion_targets
from catsort.sorting.copies import EarlierCopies
from catsort.sorting.jobs import EarlierMove, Job, start_job
from catsort.sorting.journal import JOURNAL_DIR, Journal, Whereabouts, done_placements, recover
from catsort.sorting.lock import DestinationLock
from catsort.sorting.place import (
    GroupFailed,
    Placement,
    check_inside,
    place_group,
    plan_group,
    same_content,
)
from catsort.sorting.restore import Entry, UndoResult, undo_copy

# Imported for what importing it does too: journals learn to settle and undo sidecar writes.
from catsort.tagging.sidecar import TagSettings, put_back, read_sidecar
from catsort.types import (
    COPY,
    MOVE,
    PERSON,
    Companion,
    PhotoResult,
    Reporter,
    RunSettings,
    RunSummary,
    SortPlan,
)
from catsort.walk import WalkTally, exclude_check

if TYPE_CHECKING:
    from catsort.tagging.tagger import Tagger

#: Why a linked photo is classified but not moved.
KEPT_LINK = "a link: links are never moved or tagged (--copy copies what it points to)"
KEPT_OUTSIDE = (
    "reached through a folder link, it lies outside the folders given: not moved or tagged"
)
#: Where a copy that a person said shows no pet is set aside, in the journal folder: out of the
#: label folders, kept whole (its original never moved), put back by undo.
SET_ASIDE = "set-aside"


@dataclass(frozen=True)
class Decision:
    """What a person's label did to one photo (``SortSession.decide``): enough to take it back
    (``SortSession.undo_decision``).

    ``before`` is the photo as it was, with the model's prediction; ``after`` as the decision
    left it: the person's label (``decided_by``), its ``destination`` if it moved, its sidecar,
    or an ``error``: the photo could not be placed (``acted`` is False: nothing changed), or
    its sidecar could not be written (the rest was done).
    """

    before: PhotoResult
    after: PhotoResult
    label: str
    placements: tuple[Placement, ...] = ()
    sidecar: Path | None = None  # the sidecar the decision changed
    sidecar_before: bytes | None = None  # its bytes before (None: there was none)
    sidecar_after: bytes | None = None
    earlier: str | None = None  # the label a person had given the photo before (None: none)
    original: Path | None = None  # a copy's original, whose label is remembered too
    acted: bool = True

    @property
    def where(self) -> Path:
        """Where the photo is after the decision."""
        return self.after.destination or self.after.path


class SortSession:
    """A sort run's resources: the destination's lock, the job, the cache, the journal, tags.

    Use it as a context manager (or ``open`` and ``close``). ``handle`` takes each classified
    photo and returns it placed and tagged; ``summary`` says what the session did. ``given`` are
    the folders and files the run was given: nothing outside them is ever moved. A session that
    writes nothing (no action and no tags, or a dry run) opens the results cache only.
    ``resumable``: the run walks its inputs to the end and may finish an interrupted one of the
    same command (``finish``, ``earlier_moves``); a watch is not.
    """

    def __init__(
        self,
        classifier: Classifier,
        plan: SortPlan,
        settings: RunSettings | None = None,
        *,
        given: Sequence[Path],
        tagging: TagSettings | None = None,
        reporter: Reporter | None = None,
        resumable: bool = True,
    ) -> None:
        self.classifier = classifier
        self.plan = plan
        self.settings = settings if settings is not None else RunSettings()
        self.given = tuple(Path(path) for path in given)
        self.tagging = tagging
        self.reporter = reporter if reporter is not None else Reporter()
        self.resumable = resumable
        self.labels = classifier.metadata.labels
        self.summary = RunSummary(labels=self.labels)
        self.tally = WalkTally(
            self.summary.not_entered,
            self.summary.not_photos,
            duplicate_links=self.summary.duplicate_links,
        )
        self.excluded = exclude_check(self.given, self.settings.exclude)
        # Where catsort moved the photos that links point to (and that are not there any more).
        self.whereabouts = Whereabouts([plan.dest] if plan.dest is not None else [])
        # The files this session put in place (device, inode), where the walk is yet to go: in
        # a label folder of the user's own (plan.theirs), which is walked like any other.
        self.placed: set[tuple[int, int]] = set()
        self.finder = CompanionFinder(ignore=self.excluded, videos=self.settings.videos)
        self.cache: ResultsCache | None = None
        self.journal: Journal | None = None
        self.job: Job | None = None
        self._tagger: Tagger | None = None
        self._copies = EarlierCopies()
        self._companions: Counter[str] = Counter()  # the companions' extensions, to count off
        # A dry run's planned targets, so that the names it shows stay apart as a real run's do.
        self._reserved: set[Path] | None = set() if plan.dry_run else None
        self._stack = ExitStack()
        self._started: float | None = None  # when it opened; None while it is not open
        # Where the files a run or a person put in place came from, by where they went (read
        # from the journals the first time a decision needs it; this session's own added).
        self._placed: dict[Path, Entry] | None = None
        self._decided: dict[Path, Entry] = {}

    @property
    def writes(self) -> bool:
        """Whether this session changes anything on disk (and so takes the lock)."""
        return (self.plan.action is not None or self.tagging is not None) and not self.plan.dry_run

    @property
    def root(self) -> Path:
        """The folder holding the lock, the journals and the cache (``<root>/.catsort``)."""
        if self.plan.dest is not None:
            return self.plan.dest
        return journal_root(self.given)  # a run that only tags: the folder given

    # --- opening and closing ---------------------------------------------------------------

    def open(self) -> SortSession:
        """Check the plan and settings, then take the lock, settle what an interrupted run left,
        join the job, open the cache and the journal."""
        check_plan(self.plan, self.given, self.labels)
        self.settings.check(self.classifier)
        self._started = time.perf_counter()
        try:
            if self.writes:
                # One run at a time per destination: a second would race it for the same names.
                self._stack.enter_context(
                    DestinationLock.acquire(self.root / JOURNAL_DIR, self.reporter.note)
                )
                for message in recover(self.root):
                    self.reporter.note(message)
                if self.resumable and self.plan.action is not None and self.plan.dest is not None:
                    self.job = start_job(
                        self.plan.dest, list(self.given), self.plan.action, self.plan.other_dest
                    )
            self.cache = open_cache(
                self.given,
                self.classifier,
                self.plan,
                self.settings,
                self.reporter.warning,
                on_failure=self._problem,
            )
            if self.cache is not None:
                self._stack.callback(self.cache.close)
            if self.writes:
                self.journal = self._stack.enter_context(Journal.create(self.root))
                if self.job is not None:
                    self.job.add(self.journal.path)
            for folder in self.plan.theirs:
                self.reporter.note(
                    f"{folder}: no catsort run sorted into it, so it is taken as a folder of your "
                    f"own: its photos are classified like any others, and the {folder.name} "
                    "photos sorted now join them"
                )
            self.renew()
        except BaseException:
            self._stack.close()
            self._started = None
            raise
        return self

    def close(self) -> None:
        """Close the journal, the cache and the lock, in that order; complete the summary."""
        if self._started is None:
            return  # never opened, or closed already
        summary = self.summary
        try:
            if self.journal is not None and self.journal.completed:
                summary.journal = self.journal.path  # nothing to put back when all failed
        finally:
            self._stack.close()
        if self.journal is not None and self.journal.failed is not None and not summary.stopped:
            self._problem(str(self.journal.failed))  # its last line, "closed", on a full disk
        if self.job is not None:
            this_run = None if self.journal is None else self.journal.path
            # This run's journal only if it put something somewhere; earlier ones all, as they
            # are: undone newest first, they put back the whole job.
            summary.job_journals = [
                path for path in self.job.journal_paths() if path != this_run or summary.journal
            ]
        summary.excluded = self.tally.excluded
        for ext, count in self._companions.items():
            summary.not_photos[ext] = max(0, summary.not_photos[ext] - count)
        self._companions.clear()
        summary.elapsed = time.perf_counter() - self._started
        self._started = None
        self.reporter.closed(summary)

    def __enter__(self) -> SortSession:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def renew(self) -> None:
        """Start afresh what a session keeps of the folders it saw: companion listings and the
        tags' date (a watch renews them for each batch of photos that arrived)."""
        self.finder = CompanionFinder(ignore=self.excluded, videos=self.settings.videos)
        if self.tagging is not None:
            self._tagger = new_tagger(self.tagging, self.classifier)

    def earlier_moves(self) -> list[EarlierMove]:
        """The photos the interrupted runs this one resumes moved, still in their new place."""
        return self.job.earlier_moves() if self.job is not None and self.job.resumed else []

    @property
    def stopped(self) -> bool:
        """Whether the session stopped taking photos: a file it had to write could not be (its
        journal, the CSV, the disk the photos go to); ``summary.stopped`` says which, and why."""
        return self.summary.stopped is not None

    def stop(self, error: WriteFailed) -> None:
        """Stop taking photos, for the write that failed: every photo placed so far is whole
        and journaled, and the same command again finishes the job (it is not finished)."""
        if self.summary.stopped is None:
            self.summary.stopped = str(error)

    def finish(self) -> None:
        """Mark the run's walk as gone through to its end: the job is done, not to be resumed
        (a run stopped part way is not finished, and the same command resumes it)."""
        # Read again: this run's own moves too.
        whereabouts = Whereabouts(self.whereabouts.roots)
        for message in _dangling_links(self.summary.duplicate_links, whereabouts):
            self.reporter.note(message)
        if self.job is not None:
            try:
                self.job.finish()
            except WriteFailed as exc:
                self._problem(f"{exc}; the same command again lists this run's photos as moved")

    def _problem(self, message: str) -> None:
        """A write that failed while the run goes on without it (the results cache, the job
        file): a warning now, and exit code 1."""
        self.summary.problems.append(message)
        self.reporter.warning(message)

    # --- each result -------------------------------------------------------------------------

    def handle(self, result: PhotoResult) -> PhotoResult:
        """Place, tag, count and report one result; return it as placed and tagged."""
        done = self.place(result)
        if self._tagger is not None and not self.stopped:
            done = self.tag(done)
        # A companion belongs to its photo, moved with it or left in place with it: not a file
        # the walk left alone as no photo (counted off when the session closes, once the walk
        # has counted it).
        companions = [c.path for c in done.companions] or self.finder.of(done.path)
        self._companions.update(path.suffix.lower() for path in companions)
        self.summary.add(done)
        try:
            self.reporter.result(done)
        except WriteFailed as exc:  # the CSV (or a dry run's plan) takes no more rows
            self.stop(exc)
        return done

    def place(self, result: PhotoResult) -> PhotoResult:
        """Move or copy a classified photo and its companions per the plan, journaled; return
        the result with its destination and theirs (or why it stayed)."""
        plan = self.plan
        if result.prediction is None or plan.action is None or result.earlier:
            return result
        folder = plan.target_folder(result.path, result.prediction.label, self.labels)
        if folder is None:
            return result
        if plan.action == MOVE:
            kept = self._why_kept(result.path)
            if kept is not None:
                return replace(result, kept=kept)
        companions = self.finder.of(result.path)
        if plan.action == COPY:
            earlier = self._copies.find(result.path, folder, companions)
            if earlier is not None:  # a second --copy run leaves things as they are
                went = companion_targets(result.path, companions, earlier)
                return replace(
                    result,
                    destination=earlier,
                    earlier=True,
                    companions=tuple(map(Companion, companions, went)),
                )
        placements = plan_group(result.path, companions, folder, plan.action, self._reserved)
        try:
            targets = place_group(
                placements, self.journal, dry_run=plan.dry_run, inside=self.given or None
            )
        except GroupFailed as exc:
            if isinstance(exc.cause, WriteFailed):
                self.stop(exc.cause)
            message, reason = _group_error(exc, result.path, plan.action)
            return replace(result, error=message, reason=reason)
        except WriteFailed as exc:  # the journal, before anything moved
            self.stop(exc)
            past = "moved" if plan.action == MOVE else "copied"
            return replace(
                result,
                error=f"not {past}: {exc}",
                reason=f"not {past}: the journal could not be written",
            )
        if plan.action == COPY:
            self._copies.add(targets[0])  # so an identical photo later in this run finds it
        if plan.theirs and not plan.dry_run:
            self._remember(targets)
        if self.cache is not None and not plan.dry_run:
            self.cache.placed(result.path, targets[0], moved=plan.action == MOVE)
        return replace(
            result,
            destination=targets[0],
            companions=tuple(map(Companion, companions, targets[1:])),
        )

    def tag(self, result: PhotoResult) -> PhotoResult:
        """Write a cat or dog photo's keyword into its sidecar, where the photo is now (or will
        be, in a dry run); return the result with its sidecar (or why it has none).

        A photo left where it is that is a link, or lies outside the folders given (reached
        through a folder link), gets no sidecar: it would sit beside the link, not the photo.
        """
        if self._tagger is None or result.prediction is None or result.error is not None:
            return result  # failed photos are left alone
        if result.label not in self.labels:
            return result  # uncertain and other photos get no keyword
        photo, origin = result.path, None
        if result.destination is not None:
            photo = result.destination
            if self.plan.dry_run and not result.earlier and result.destination != result.path:
                origin = self._travelling_sidecar(result)
        elif result.kept is not None:
            return result
        else:
            kept = self._why_kept(result.path)
            if kept is not None:
                return replace(result, kept=kept)
        try:
            written = self._tagger.write(
                photo, result.prediction, self.journal, self.plan.dry_run, origin
            )
        except CatsortError as exc:
            if isinstance(exc, WriteFailed):
                self.stop(exc)
            return replace(result, error=without_path(str(exc), result.path), reason=exc.reason)
        return replace(result, sidecar=written.path)

    def _travelling_sidecar(self, result: PhotoResult) -> Path | None:
        """Where a photo a dry run would move is now, if its sidecar there goes with it: the
        sidecar to read, as the real run reads it at the photo's new place. One that stays
        behind (``IMG.xmp`` beside both ``IMG.JPG`` and ``IMG.PNG``) is not read: the real run
        writes a new one beside the photo, which is what the dry run shows then."""
        assert self._tagger is not None
        beside = self._tagger.names.find(result.path)
        if beside is not None and beside not in {c.path for c in result.companions}:
            return None
        return result.path

    def follow(self, companion: Path, photo: Path, destination: Path) -> Path | None:
        """Send a companion that arrived after its photo was placed (a Live Photo's video, a
        sidecar) to where the photo went, journaled; return where it went, or None (a note says
        why it stayed)."""
        if self.plan.action is None:
            return None
        target = companion_targets(photo, [companion], destination)[0]
        try:
            if os.path.lexists(target):
                raise CatsortError(f"{target}: already exists")
            placement = Placement(companion, target, self.plan.action)
            place_group([placement], self.journal, inside=self.given)
        except CatsortError as exc:
            self.reporter.note(f"{companion}: not sent after {photo.name} ({exc}); left in place")
            return None
        self.summary.companions += 1
        self.reporter.note(f"{companion.name} -> {target} (after {photo.name})")
        return target

    def _remember(self, targets: Sequence[Path]) -> None:
        """Note files placed, so that the walk, reaching the folder they went to, passes them."""
        for target in targets:
            try:
                st = os.stat(target)
            except OSError:
                continue
            self.placed.add((st.st_dev, st.st_ino))

    # --- a person's decision (catsort review) ----------------------------------------------

    def decide(self, result: PhotoResult, label: str) -> Decision:
        """Give a photo the label a person chose, acting on it as a run would have, and
        remember it in the results cache, where it wins over the model in every later run.

        With --move or --copy the photo and its companions go to the folder a run puts that
        label in, keeping their folder below it (a photo in a label folder is moved: copies
        too); ``other`` takes a photo out of the label folders, back where it was before the
        run (a copy is set aside in the journal folder; with ``other_dest``, there). With tags,
        its keyword changes (``other``: catsort's keyword comes out). Everything is journaled,
        so undo puts it back. ``result`` is the photo as it is now, with the model's prediction.
        """
        if label not in (*self.labels, OTHER):
            raise ValueError(f"label must be one of {(*self.labels, OTHER)}, not {label!r}")
        if result.prediction is None:
            raise CatsortError(f"{result.path}: not classified, so there is nothing to decide")
        path = result.path
        earlier = self.cache.decision(path) if self.cache is not None else None
        after = PhotoResult(
            path,
            replace(result.prediction, label=label),
            cached=result.cached,
            decided_by=PERSON,
        )
        placements, original, set_aside = self._decision_placements(path, label)
        if placements and any(p.source != p.target for p in placements):
            kept = self._why_kept(path)
            if kept is not None:  # a link: labelled, never moved
                placements, after = [], replace(after, kept=kept)
        if placements:
            try:
                targets = place_group(placements, self.journal, inside=self.given or None)
            except GroupFailed as exc:
                error, reason = _group_error(exc, path, placements[0].action)
                failed = replace(after, error=error, reason=reason)
                return Decision(result, failed, label, earlier=earlier, acted=False)
            except WriteFailed as exc:  # the journal, before anything moved
                failed = replace(after, error=f"not moved: {exc}", reason=exc.reason)
                return Decision(result, failed, label, earlier=earlier, acted=False)
            if self.cache is not None:
                self.cache.placed(path, targets[0], moved=placements[0].action == MOVE)
            after = replace(
                after,
                destination=targets[0],
                companions=tuple(map(Companion, (p.source for p in placements[1:]), targets[1:])),
            )
            for placement in placements:
                if placement.source != placement.target:
                    target = Path(os.path.abspath(placement.target))
                    self._decided[target] = Entry(
                        -1, placement.action, placement.source, target, "done"
                    )
        decision = Decision(
            result, after, label, tuple(placements), earlier=earlier, original=original
        )
        now = decision.where
        if self._tagger is not None and not set_aside and after.kept is None:
            try:
                decision = self._retag(decision, now)
            except CatsortError as exc:
                decision = replace(
                    decision, after=replace(after, error=without_path(str(exc), now))
                )
        if self.cache is not None:
            for photo in (now, original) if not set_aside else (original,):
                if photo is not None:
                    self.cache.decide(photo, label)
            if self.cache.failure is not None:  # done, but no later run will know it
                unkept = f"{self.cache.failure}; the label is not remembered for later runs"
                error = "; ".join(filter(None, [decision.after.error, unkept]))
                decision = replace(decision, after=replace(decision.after, error=error))
        return decision

    def undo_decision(self, decision: Decision) -> PhotoResult:
        """Take a decision back, journaled: the sidecar as it was, the photo and its companions
        back where they were (a copy made removed), and the label a person had given it before
        (or none). Raises CatsortError naming the file where that cannot be done (the old place
        taken, the sidecar changed since); nothing is changed then. Returns ``before``."""
        moves = [
            Placement(p.target, p.source, MOVE)
            for p in decision.placements
            if p.action == MOVE and p.source != p.target
        ]
        copies = [p for p in decision.placements if p.action == COPY and p.source != p.target]
        for placement in moves:
            if os.path.lexists(placement.target):
                raise CatsortError(
                    f"{placement.source}: not moved back, {placement.target} is taken again",
                    FAILED,
                )
        for copy in copies:
            if not same_content(copy.source, copy.target):
                raise CatsortError(
                    f"{copy.target}: kept, it differs from {copy.source} now", FAILED
                )
        if decision.sidecar is not None:
            assert decision.sidecar_after is not None
            put_back(
                decision.sidecar, decision.sidecar_before, decision.sidecar_after, self.journal
            )
        if moves:
            try:
                place_group(moves, self.journal, inside=self.given or None)
            except GroupFailed as exc:
                why, _ = _group_error(exc, moves[0].source, MOVE)
                raise CatsortError(f"{moves[0].source}: not moved back: {why}", FAILED) from None
            if self.cache is not None:
                self.cache.placed(moves[0].source, moves[0].target, moved=True)
        removed = UndoResult()
        for copy in reversed(copies):  # as catsort undo removes a copy: only while it matches
            undo_copy(Entry(-1, COPY, copy.source, copy.target, "done"), removed)
        if removed.skipped:
            raise CatsortError(removed.skipped[0], FAILED)
        for placement in decision.placements:
            self._decided.pop(Path(os.path.abspath(placement.target)), None)
        if self.cache is not None:
            for photo in (decision.before.path, decision.original):
                if photo is None:
                    continue
                if decision.earlier is None:
                    self.cache.undecide(photo)
                else:
                    self.cache.decide(photo, decision.earlier)
        return decision.before

    def _decision_placements(
        self, path: Path, label: str
    ) -> tuple[list[Placement], Path | None, bool]:
        """Where a person's label sends a photo and its companions: the placements, a copy's
        original (None if the photo is none), and whether it is a copy being set aside."""
        plan = self.plan
        if plan.action is None or plan.dest is None:
            return [], None, False  # tags only, or only remembered
        filled = self._in_filled_folder(path)
        origin, how = self._before_run(path) if filled else (None, MOVE)
        original = origin if how == COPY else None
        folder = plan.target_folder(path, label, self.labels)
        if folder is None and not filled:
            return [], None, False  # stays where it is, as a run leaves it
        companions = self.finder.of(path)
        if folder is not None:
            # What a run put in place moves on; an original gets what the run does to one.
            action = MOVE if filled else plan.action
            return plan_group(path, companions, folder, action), original, False
        assert origin is not None
        if how == COPY:
            relative = os.path.relpath(os.path.dirname(os.path.abspath(path)), plan.dest)
            aside = self.root / JOURNAL_DIR / SET_ASIDE / relative
            return plan_group(path, companions, Path(os.path.normpath(aside)), MOVE), original, True
        return plan_group(path, companions, origin.parent, MOVE), None, False

    def _in_filled_folder(self, path: Path) -> bool:
        """Whether a photo lies in a folder a run fills (a label folder, ``other_dest``)."""
        parent = os.path.realpath(Path(path).parent)
        for folder in self.plan.folders(self.labels):
            root = os.path.realpath(folder)
            if parent == root or parent.startswith(root.rstrip(os.sep) + os.sep):
                return True
        return False

    def _before_run(self, path: Path) -> tuple[Path, str]:
        """Where a photo in a label folder was before catsort put it there, and how it came
        (MOVE, or COPY: then it is a copy of that file), from the journals; with no record,
        its folder below the label folder, below the folder sorted."""
        if self._placed is None:
            leave_out = self.journal.path if self.journal is not None else None
            self._placed = done_placements(self.root, leave_out)
        here = Path(os.path.abspath(path))
        seen: set[Path] = set()
        while here not in seen:
            seen.add(here)
            entry = self._decided.get(here) or self._placed.get(here)
            if entry is None:
                break
            if entry.op == COPY:
                return Path(entry.source), COPY
            here = Path(os.path.abspath(entry.source))
        if here != Path(os.path.abspath(path)):
            return here, MOVE
        base = self.plan.base or self.plan.dest or Path(path).parent
        relative = self.plan.relative_folder(path, self.labels)
        return Path(base) / relative / Path(path).name, MOVE

    def _retag(self, decision: Decision, photo: Path) -> Decision:
        """Write a person's label into the photo's sidecar (``other``: take catsort's out)."""
        assert self._tagger is not None and decision.after.prediction is not None
        sidecar = self._tagger.sidecar(photo)
        before = read_sidecar(sidecar)
        if decision.label in self.labels:
            written = self._tagger.write(photo, decision.after.prediction, self.journal)
        else:
            written = self._tagger.remove(photo, self.journal)
        after = read_sidecar(written.path)
        if after == before:
            return replace(decision, after=replace(decision.after, sidecar=written.path))
        return replace(
            decision,
            after=replace(decision.after, sidecar=written.path),
            sidecar=written.path,
            sidecar_before=before,
            sidecar_after=after,
        )

    def _why_kept(self, path: Path) -> str | None:
        """Why a photo is not moved although its label says so (a link), or None."""
        if os.path.islink(path):
            return KEPT_LINK
        if not self.given:
            return None  # nothing to check against: the caller places only what it was given
        try:
            check_inside(path, self.given)
        except CatsortError:
            return KEPT_OUTSIDE
        return None


def open_cache(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings,
    on_warning: Callable[[str], None] | None = None,
    *,
    on_failure: Callable[[str], None] | None = None,
) -> ResultsCache | None:
    """The results cache of this run: beside the journals for --move/--copy, else in the
    user's cache folder (keyed by the folder given), so a CSV-only run writes nothing there.
    ``on_failure`` hears of a cache that cannot be written (a full disk), ``on_warning`` of
    one that was damaged and started afresh, or busy.

    A CSV-only run inside a library that a --move/--copy run sorted uses that library's cache,
    so the photos it sorted are not read again. None when the settings turn it off, or when it
    cannot be used (after a warning). A dry run uses the destination's cache only if it is
    already there.
    """
    if not settings.cache:
        return None
    if plan.action is not None and plan.dest is not None:
        base = plan.dest
        path = plan.dest / JOURNAL_DIR / CACHE_NAME
    else:
        roots = [os.path.abspath(p if os.path.isdir(p) else Path(p).parent) for p in paths]
        try:
            base = Path(os.path.commonpath(roots))
        except ValueError:  # several drives: no one folder to key it by
            return None
        library = _library_with_cache(base)
        if library is not None:
            base, path = library, library / JOURNAL_DIR / CACHE_NAME
        else:
            path = cache_location(base)
    return ResultsCache.open(
        path,
        base,
        fingerprint(classifier),
        refresh=settings.refresh,
        create=not plan.dry_run,
        on_warning=on_warning,
        on_failure=on_failure,
    )


def _library_with_cache(folder: Path) -> Path | None:
    """The nearest of ``folder`` and the folders above it that holds a sorting run's cache."""
    for candidate in (folder, *folder.parents):
        if (candidate / JOURNAL_DIR / CACHE_NAME).is_file():
            return candidate
    return None


def new_tagger(tagging: TagSettings, classifier: Classifier) -> Tagger:
    """The tagger of a run starting now: its keywords carry the model and today's date."""
    from catsort.tagging.tagger import Tagger  # only runs that tag need the XML parser

    now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    return Tagger(tagging, classifier.fingerprint, now)


def _dangling_links(links: Sequence[Path], whereabouts: Whereabouts) -> Iterator[str]:
    """A note for each link that points to nothing now, its photo moved by this run or an
    earlier one (links are never moved or rewritten): catsort's doing, not an error."""
    for link in links:
        if os.path.lexists(link) and not os.path.exists(link):
            now = whereabouts.find(link)
            went = f" to {now}" if now is not None else ""
            yield (
                f"{link}: a link to {os.path.realpath(link)}, which catsort moved{went}; it "
                "points to nothing now (catsort undo puts the photo back)"
            )


def _group_error(exc: GroupFailed, photo: Path, action: str) -> tuple[str, str | None]:
    """The one-line reason a photo stayed put, its own or that of the companion that could not
    go with it; and the same without the paths in it (see PhotoResult.reason)."""
    if exc.member == photo:
        message = without_path(str(exc.cause), photo)
        reason = exc.cause.reason
    else:
        past = "moved" if action == MOVE else "copied"
        why = without_path(str(exc.cause), exc.member)
        message = (
            f"companion {exc.member.name} could not be {past} ({why}); the photo and its "
            "companions stayed in place"
        )
        reason = (
            f"a companion could not be {past} ({exc.cause.reason or why}); the photo and its "
            "companions stayed in place"
        )
    if exc.split:
        message += "; left in their new place: " + "; ".join(exc.split)
        reason = None  # each one different: shown whole
    return message, reason
