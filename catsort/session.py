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
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from catsort.cache import CACHE_NAME, ResultsCache, cache_location, fingerprint
from catsort.errors import CatsortError, WriteFailed, without_path
from catsort.model import Classifier
from catsort.plan import check_plan, journal_root
from catsort.sorting.companions import CompanionFinder, companion_targets
from catsort.sorting.copies import EarlierCopies
from catsort.sorting.jobs import EarlierMove, Job, start_job
from catsort.sorting.journal import JOURNAL_DIR, Journal, Whereabouts, recover
from catsort.sorting.lock import DestinationLock
from catsort.sorting.place import GroupFailed, Placement, check_inside, place_group, plan_group

# Imported for what importing it does too: journals learn to settle and undo sidecar writes.
from catsort.tagging.sidecar import TagSettings
from catsort.types import (
    COPY,
    MOVE,
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
        self.finder = CompanionFinder(ignore=self.excluded)
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
        self.finder = CompanionFinder(ignore=self.excluded)
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
