"""A classify run: which folder each photo goes to, moving or copying it, and the summary."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from catsort.cache import CACHE_NAME, ResultsCache, cache_location, fingerprint
from catsort.errors import CatsortError
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier
from catsort.pipeline import BATCH_SIZE, Companion, PhotoResult, classify_paths
from catsort.skiplist import library_around
from catsort.sorting.companions import CompanionFinder, companion_targets, without_paired_raws
from catsort.sorting.copies import EarlierCopies
from catsort.sorting.jobs import Job, start_job
from catsort.sorting.journal import JOURNAL_DIR, Journal, recover
from catsort.sorting.lock import DestinationLock
from catsort.sorting.place import COPY, MOVE, GroupFailed, check_inside, place_group, plan_group
from catsort.walk import WalkTally, check_inputs, exclude_spec, find_images

#: Why a linked photo is classified but not moved.
KEPT_LINK = "a link: links are never moved or tagged (--copy copies what it points to)"
KEPT_OUTSIDE = (
    "reached through a folder link, it lies outside the folders given: not moved or tagged"
)

if TYPE_CHECKING:
    from catsort.tagging.sidecar import Tagger, TagSettings


@dataclass(frozen=True)
class SortPlan:
    """Where classified photos go: ``<dest>/<label>/``, ``other`` to ``other_dest`` if given.

    Below the label folder a photo keeps its folder's path relative to ``base`` (the folder
    given), or relative to the label folder it is in already, unless ``flat``.
    """

    action: str | None = None  # MOVE, COPY, or None to leave every photo where it is
    dest: Path | None = None
    other_dest: Path | None = None
    dry_run: bool = False
    flat: bool = False
    base: Path | None = None  # the folder relative paths are kept from (None: flat)

    def folder_for(self, label: str, labels: Sequence[str]) -> Path | None:
        """The folder a photo with this label goes to, or None when it stays where it is."""
        if self.action is None or self.dest is None:
            return None
        if label in labels:
            return self.dest / label
        if label == OTHER and self.other_dest is not None:
            return self.other_dest
        return None  # uncertain (and other without --other-dest) stay put

    def target_folder(self, path: Path, label: str, labels: Sequence[str]) -> Path | None:
        """The folder a photo goes to (its label folder, then its own folder's relative path),
        or None when it stays where it is."""
        folder = self.folder_for(label, labels)
        if folder is None or self.flat:
            return folder
        relative = self.relative_folder(path, labels)
        return folder / relative if relative else folder

    def relative_folder(self, path: Path, labels: Sequence[str]) -> str:
        """The path of a photo's folder below the label folder it is in already (it was sorted
        before: no nesting), else below ``base``; "" where it is neither."""
        bases = [self.dest / label for label in labels] if self.dest is not None else []
        parent = os.path.abspath(Path(path).parent)
        for base in [*bases, *([self.base] if self.base is not None else [])]:
            try:
                relative = os.path.relpath(parent, os.path.abspath(base))
            except ValueError:  # another drive
                continue
            if relative == os.curdir:
                return ""
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return relative
        return ""

    def walk_skips(self, paths: Sequence[Path], labels: Sequence[str]) -> list[Path]:
        """The folders a walk leaves out: those this plan fills, but for a label folder given
        to be checked again (``catsort classify Pictures/cat --move``)."""
        given = {os.path.realpath(p) for p in paths if os.path.isdir(p)}
        return [f for f in self.folders(labels) if os.path.realpath(f) not in given]

    def folders(self, labels: Sequence[str]) -> list[Path]:
        """Every folder this plan fills, so that a walk leaves them out."""
        if self.action is None or self.dest is None:
            return []
        folders = [self.dest / label for label in labels]
        return folders + ([self.other_dest] if self.other_dest is not None else [])


def make_plan(
    paths: Sequence[Path],
    action: str | None = None,
    dest: Path | None = None,
    other_dest: Path | None = None,
    dry_run: bool = False,
    flat: bool = False,
    labels: Sequence[str] = (),
    tag: bool = False,
) -> SortPlan:
    """Check the sorting options together and fill in the default destination.

    With the model's ``labels``, a folder given that is a label folder an earlier run filled
    (or inside one) has that run's destination as its default one. ``tag``: the run writes
    keywords into sidecars, which a dry run can show without sorting.
    """
    if action is None:
        for given, option in (
            (dest, "--dest"),
            (other_dest, "--other-dest"),
            ((dry_run and not tag) or None, "--dry-run"),
            (flat or None, "--flat"),
        ):
            if given is not None:
                also = " (or --tag)" if option == "--dry-run" else ""
                raise CatsortError(f"{option} needs --move or --copy{also}")
        return SortPlan(dry_run=dry_run)
    if action not in (MOVE, COPY):
        raise ValueError(f"unknown action {action!r}")
    return SortPlan(
        action,
        dest if dest is not None else default_dest(paths, labels),
        other_dest,
        dry_run,
        flat,
        None if flat else library_base(paths),
    )


def library_base(paths: Sequence[Path]) -> Path | None:
    """The folder whose relative paths sorting keeps: the folder given (or the folder of the
    files given); with several, the deepest folder holding them all."""
    roots = sorted({os.path.abspath(p if os.path.isdir(p) else Path(p).parent) for p in paths})
    if not roots:
        return None
    try:
        return Path(os.path.commonpath(roots))
    except ValueError:  # on different drives: nothing in common to keep
        return None


def earlier_destination(folder: Path, labels: Sequence[str]) -> Path | None:
    """The destination of an earlier run when ``folder`` is one of its label folders or lies
    inside one: its parent holds the journals (``.catsort``) or all the label folders."""
    path = Path(os.path.abspath(folder))
    for inside in (path, *path.parents):
        parent = inside.parent
        if inside.name not in labels or parent == inside:
            continue
        if (parent / JOURNAL_DIR).is_dir() or all((parent / lb).is_dir() for lb in labels):
            return parent
    return None


def default_dest(paths: Sequence[Path], labels: Sequence[str] = ()) -> Path:
    """The folder given (or the folder of the files given), where the label folders go; for a
    label folder an earlier run filled, that run's destination (no cat/cat/)."""
    roots = {Path(p) if os.path.isdir(p) else Path(p).parent for p in paths}
    roots = {earlier_destination(r, labels) or r for r in roots} if labels else roots
    if len({os.path.realpath(r) for r in roots}) != 1:
        raise CatsortError(
            "several folders given: choose where the label folders go with --dest DIR"
        )
    return sorted(roots)[0]


def check_plan(plan: SortPlan, paths: Sequence[Path], labels: Sequence[str]) -> None:
    """Raise CatsortError (exit 2) for destinations that cannot work with these inputs."""
    if plan.action is None:
        return
    for folder, option in ((plan.dest, "--dest"), (plan.other_dest, "--other-dest")):
        if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
            raise CatsortError(f"{option} {folder}: is a file, not a folder")
    # The walk never enters the folders a run fills, so an input that is one would be skipped
    # without a word.
    filled = {os.path.realpath(folder): folder for folder in plan.folders(labels)}
    # A label folder given is checked again, its photos moved to their right siblings.
    rechecked = {os.path.realpath(plan.dest / label) for label in labels} if plan.dest else set()
    for path in paths:
        folder = filled.get(os.path.realpath(path)) if os.path.isdir(path) else None
        if folder is not None and os.path.realpath(path) not in rechecked:
            raise CatsortError(
                f"{path}: is where this run puts sorted photos ({folder}), so nothing in it "
                "would be classified; choose another --dest or --other-dest"
            )
    check_not_in_library(plan, paths)


def check_not_in_library(plan: SortPlan, paths: Sequence[Path]) -> None:
    """Raise CatsortError (exit 2) when a --move/--copy run would sort in or into a library.

    A folder the walk would never enter (catsort.skiplist) is refused when given, or lived in,
    by an input or a destination; without --move/--copy, reading one changes nothing.
    """
    checked: set[str] = set()
    for path in paths:
        # Once per folder: `catsort classify *.jpg --move` names thousands of files in one.
        folder_given = os.path.realpath(path if os.path.isdir(path) else Path(path).parent)
        if folder_given in checked:
            continue
        checked.add(folder_given)
        found = library_around(Path(folder_given))
        if found is not None:
            folder, reason = found
            where = "is" if folder == Path(os.path.realpath(path)) else f"is inside {folder},"
            raise CatsortError(
                f"{path}: {where} {reason}; catsort never moves or copies photos out of one "
                "(without --move or --copy it only classifies, changing nothing)"
            )
    for dest, option in ((plan.dest, "--dest"), (plan.other_dest, "--other-dest")):
        found = library_around(dest) if dest is not None else None
        if found is not None:
            raise CatsortError(
                f"{option} {dest}: is in {found[0]} ({found[1]}); choose a folder outside it"
            )


@dataclass(frozen=True)
class RunSettings:
    """How to walk and decide: the classify options that are not about sorting."""

    recursive: bool = True
    threshold: float | None = None
    use_gate: bool = True
    gate_threshold: float | None = None
    batch_size: int = BATCH_SIZE
    workers: int | None = None
    follow_links: bool = False  # walk into folder links (never moving what lies outside)
    exclude: tuple[str, ...] = ()  # gitignore-style patterns, relative to the folder given
    cache: bool = True  # keep and use the results cache (catsort.cache)
    refresh: bool = False  # classify every photo again, and update the cache


@dataclass
class RunSummary:
    """What a run did; the exit code comes from it."""

    labels: tuple[str, ...]
    counts: Counter = field(default_factory=Counter)  # label (incl. uncertain, other) -> files
    errors: int = 0
    skipped: int = 0  # photos deliberately not classified (too small to tell): not failures
    reasons: Counter = field(default_factory=Counter)  # error reason (no path) -> files
    placed: int = 0  # files moved or copied (or that would be, in a dry run)
    companions: int = 0  # companion files that went with them
    in_place: int = 0  # photos already in their label folder (an earlier run sorted them)
    tagged: int = 0  # photos whose sidecar holds their keyword after --tag (or would)
    earlier: int = 0  # files an earlier run had already copied: nothing to do for them
    elapsed: float = 0.0
    journal: Path | None = None  # the journal of this run's moves and copies, if any
    kept: int = 0  # classified photos that would have moved but are links: left in place
    # What the walk left alone: folders not entered (path -> reason, e.g. an application's
    # library), files that are not photos (extension -> files), photos matching --exclude.
    not_entered: dict[Path, str] = field(default_factory=dict)
    not_photos: Counter = field(default_factory=Counter)
    excluded: int = 0
    # Links to photos the walk found under their own name too: each photo is classified once.
    duplicate_links: list[Path] = field(default_factory=list)
    cached: int = 0  # results that came from the results cache (not read again)
    # The journals of the whole job, newest first: this run's and those of the interrupted runs
    # it finished (catsort.sorting.jobs); undone in this order, they put everything back.
    job_journals: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        """Files looked at, failed and skipped ones included."""
        return sum(self.counts.values()) + self.errors + self.skipped

    @property
    def images_per_second(self) -> float:
        """Throughput over the whole run."""
        return self.files / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when every file was classified (and placed) or skipped, 1 when some failed."""
        return 1 if self.errors else 0

    def rows(self) -> list[tuple[str, int]]:
        """(label, count) for the model's labels, then uncertain and other."""
        return [(label, self.counts[label]) for label in (*self.labels, UNCERTAIN, OTHER)]

    def not_photo_rows(self) -> list[tuple[str, int]]:
        """(extension, files) for the files left alone as not photos, most common first."""
        counted = [(ext, files) for ext, files in self.not_photos.items() if files > 0]
        return sorted(counted, key=lambda item: (-item[1], item[0]))

    def add(self, result: PhotoResult) -> None:
        """Count one result."""
        if result.kept is not None:
            self.kept += 1
        if result.cached:
            self.cached += 1
        if result.error is not None:
            self.errors += 1
            self.reasons[result.error] += 1
        elif result.skipped is not None:
            self.skipped += 1
        elif result.prediction is not None:
            self.counts[result.prediction.label] += 1
        if result.sidecar is not None and result.error is None:
            self.tagged += 1
        # A photo that failed only after it moved (its sidecar could not be tagged) did move.
        if result.destination is not None:
            if result.earlier:
                self.earlier += 1
            elif result.destination == result.path:
                self.in_place += 1
            else:
                self.placed += 1
                self.companions += len(result.companions)


def find_inputs(
    paths: Sequence[Path],
    plan: SortPlan,
    labels: Sequence[str],
    recursive: bool = True,
    on_error: Callable[[Path, str], None] | None = None,
    *,
    follow_links: bool = False,
    exclude: Sequence[str] = (),
) -> Iterator[Path]:
    """The photos a run looks at: the walk, leaving out the folders the plan fills."""
    walk = find_images(
        paths,
        recursive=recursive,
        skip_dirs=plan.walk_skips(paths, labels),
        on_error=on_error,
        follow_links=follow_links,
        exclude=exclude,
    )
    return without_paired_raws(walk, CompanionFinder(ignore=exclude_check(paths, exclude)), paths)


def run_classify(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings = RunSettings(),
    on_result: Callable[[PhotoResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    tagging: TagSettings | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> RunSummary:
    """Classify every photo under ``paths``, place it per ``plan``, and report each result.

    Photos the results cache knows unchanged are not read again (``settings.cache``,
    ``settings.refresh``). A --move/--copy run that repeats an interrupted one finishes its job:
    the photos the interrupted runs moved are reported too, as placed before (``earlier``).
    With ``tagging``, each cat or dog photo's keyword goes into its XMP sidecar, where the photo
    ends up (catsort.tagging). ``on_warning`` (default: ``on_note``) hears of a results cache
    that cannot be used.
    """
    check_inputs(paths)
    metadata = classifier.metadata
    check_plan(plan, paths, metadata.labels)
    check_settings(classifier, settings)
    summary = RunSummary(labels=metadata.labels)
    started = time.perf_counter()
    tagger = None if tagging is None else new_tagger(tagging, classifier)
    warn = on_warning if on_warning is not None else on_note
    writing = (plan.action is not None or tagger is not None) and not plan.dry_run
    if not writing:
        cache = open_cache(paths, classifier, plan, settings, warn)
        try:
            return _run(
                paths, classifier, plan, settings, summary, on_result, started, tagger, None, cache
            )
        finally:
            if cache is not None:
                cache.close()
    # A run that only tags keeps its journal in the folder given, where the photos stay.
    root = plan.dest if plan.dest is not None else journal_root(paths)
    # One run at a time per destination: a second one would race this one for the same names.
    with DestinationLock.acquire(root / JOURNAL_DIR, on_note):
        for message in recover(root):
            if on_note is not None:
                on_note(message)
        job = None
        if plan.action is not None and plan.dest is not None:
            job = start_job(plan.dest, list(paths), plan.action, plan.other_dest)
        cache = open_cache(paths, classifier, plan, settings, warn)
        try:
            return _run(
                paths,
                classifier,
                plan,
                settings,
                summary,
                on_result,
                started,
                tagger,
                root,
                cache,
                job,
                on_note,
            )
        finally:
            if cache is not None:
                cache.close()


def journal_root(paths: Sequence[Path]) -> Path:
    """Where a run that moves nothing keeps its journal: the folder given, or their common one."""
    try:
        return default_dest(paths)
    except CatsortError:
        roots = [
            os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in paths
        ]
        return Path(os.path.commonpath(roots))


def open_cache(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings,
    on_warning: Callable[[str], None] | None = None,
) -> ResultsCache | None:
    """The results cache of this run: beside the journals for --move/--copy, else in the
    user's cache folder (keyed by the folder given), so a CSV-only run writes nothing there.

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
    )


def _library_with_cache(folder: Path) -> Path | None:
    """The nearest of ``folder`` and the folders above it that holds a sorting run's cache."""
    for candidate in (folder, *folder.parents):
        if (candidate / JOURNAL_DIR / CACHE_NAME).is_file():
            return candidate
    return None


def check_settings(classifier: Classifier, settings: RunSettings) -> None:
    """Raise CatsortError (exit 2) for settings this model cannot honour."""
    if settings.gate_threshold is not None and not classifier.has_gate:
        raise CatsortError(f"{classifier.path}: this model has no pet gate (--gate-threshold)")


def classify_inputs(
    paths: Sequence[Path],
    classifier: Classifier,
    settings: RunSettings = RunSettings(),
    skip_dirs: Sequence[Path] = (),
    companions: CompanionFinder | None = None,
    tally: WalkTally | None = None,
    cache: ResultsCache | None = None,
) -> Iterator[PhotoResult]:
    """Walk ``paths`` and classify each photo, in order; what the walk passed over (an
    unreadable folder) comes as an error result in its place among them, and what it left
    alone (libraries, links, non-photos) is recorded in ``tally``. A RAW file beside its JPEG
    or HEIC is no photo of its own: it goes with that one. Photos the ``cache`` knows come
    from it."""
    walk_errors: list[PhotoResult] = []
    walk = find_images(
        paths,
        recursive=settings.recursive,
        skip_dirs=skip_dirs,
        on_error=lambda path, reason: walk_errors.append(PhotoResult(path, error=reason)),
        follow_links=settings.follow_links,
        exclude=settings.exclude,
        tally=tally,
    )
    finder = companions or CompanionFinder(ignore=exclude_check(paths, settings.exclude))
    photos = without_paired_raws(walk, finder, paths)
    results = _classify_paths(photos, classifier, settings, cache)
    for result in results:
        yield from walk_errors
        walk_errors.clear()
        yield result
    yield from walk_errors  # problems met after the last photo


def _classify_paths(
    paths: Iterable[Path],
    classifier: Classifier,
    settings: RunSettings,
    cache: ResultsCache | None,
) -> Iterator[PhotoResult]:
    """classify_paths with a run's settings."""
    return classify_paths(
        paths,
        classifier,
        batch_size=settings.batch_size,
        workers=settings.workers,
        threshold=settings.threshold,
        gate_threshold=settings.gate_threshold,
        use_gate=settings.use_gate,
        cache=cache,
    )


def _run(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings,
    summary: RunSummary,
    on_result: Callable[[PhotoResult], None] | None,
    started: float,
    tagger: Tagger | None = None,
    root: Path | None = None,
    cache: ResultsCache | None = None,
    job: Job | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    metadata = classifier.metadata
    reserved: set[Path] | None = set() if plan.dry_run else None
    copies = EarlierCopies()
    finder = CompanionFinder(ignore=exclude_check(paths, settings.exclude))
    tally = WalkTally(
        summary.not_entered, summary.not_photos, duplicate_links=summary.duplicate_links
    )
    with Journal.create(root) if root is not None else nullcontext() as journal:
        if job is not None and journal is not None:
            job.add(journal.path)
        skips = plan.walk_skips(paths, metadata.labels)
        results: Iterator[PhotoResult] = classify_inputs(
            paths, classifier, settings, skips, finder, tally, cache
        )
        if job is not None and job.resumed:
            results = itertools.chain(
                _earlier_results(job, paths, classifier, settings, cache), results
            )
        for result in results:
            placed = _placed(
                result, plan, metadata.labels, journal, reserved, copies, finder, paths, cache
            )
            if tagger is not None:
                placed = tag_placed(placed, plan, metadata.labels, tagger, journal, paths)
            for companion in placed.companions:  # it travelled with its photo: not left alone
                ext = companion.path.suffix.lower()
                if summary.not_photos[ext] > 0:
                    summary.not_photos[ext] -= 1
            summary.add(placed)
            if on_result is not None:
                on_result(placed)
        if plan.action == MOVE and not plan.dry_run and on_note is not None:
            for message in _broken_links(summary.duplicate_links):
                on_note(message)
        if journal is not None and journal.completed:
            summary.journal = journal.path  # nothing to put back when every operation failed
        if job is not None:
            job.finish()  # only once the walk went through: a run stopped part way resumes
    if job is not None:
        this_run = None if journal is None else journal.path
        # This run's journal only if it put something somewhere; earlier ones all, as they are.
        summary.job_journals = [
            path for path in job.journal_paths() if path != this_run or summary.journal
        ]
    summary.excluded = tally.excluded
    summary.elapsed = time.perf_counter() - started
    return summary


def _broken_links(links: Sequence[Path]) -> Iterator[str]:
    """A note for each link that points to nothing now, its photo moved (links never move)."""
    for link in links:
        if os.path.lexists(link) and not os.path.exists(link):
            yield (
                f"{link}: a link to {os.path.realpath(link)}, which this run moved; it points "
                "to nothing now (see the CSV for where the photo went; catsort undo puts it back)"
            )


@dataclass
class Placer:
    """Puts classified photos in place per a plan, into one journal: the sorting half of a run.

    ``catsort watch`` sorts each photo through this as it arrives, the way a run does.
    """

    plan: SortPlan
    labels: Sequence[str]
    journal: Journal | None = None
    reserved: set[Path] | None = None  # a dry run's planned targets, so that names stay apart
    copies: EarlierCopies = field(default_factory=EarlierCopies)
    finder: CompanionFinder = field(default_factory=CompanionFinder)
    given: Sequence[Path] = ()  # the folders given: nothing outside them is ever moved
    cache: ResultsCache | None = None  # told where each photo went, to know it there next time

    def place(self, result: PhotoResult) -> PhotoResult:
        """Move or copy one classified photo and its companions; return the result with its
        destination."""
        return _placed(
            result,
            self.plan,
            self.labels,
            self.journal,
            self.reserved,
            self.copies,
            self.finder,
            self.given,
            self.cache,
        )


def _earlier_results(
    job: Job,
    paths: Sequence[Path],
    classifier: Classifier,
    settings: RunSettings,
    cache: ResultsCache | None,
) -> Iterator[PhotoResult]:
    """The photos the interrupted runs of this job moved, at their new place (from the cache,
    where it knows them), reported under the path they had, as placed before."""
    moves = job.earlier_moves()
    results = _classify_paths((move.target for move in moves), classifier, settings, cache)
    for move, result in zip(moves, results):
        yield replace(
            result, path=_as_given(move.source, paths), destination=move.target, earlier=True
        )


def _as_given(path: Path, inputs: Sequence[Path]) -> Path:
    """``path`` (absolute, from a journal) spelled as the walk of ``inputs`` would spell it."""
    absolute = os.path.abspath(path)
    for given in inputs:
        root = os.path.abspath(given)
        if absolute == root:
            return Path(given)
        if os.path.isdir(given) and absolute.startswith(root.rstrip(os.sep) + os.sep):
            return Path(given) / os.path.relpath(absolute, root)
    return Path(path)


def _placed(
    result: PhotoResult,
    plan: SortPlan,
    labels: Sequence[str],
    journal: Journal | None,
    reserved: set[Path] | None,
    copies: EarlierCopies,
    finder: CompanionFinder,
    given: Sequence[Path] = (),
    cache: ResultsCache | None = None,
) -> PhotoResult:
    """Move or copy one classified photo and its companions per the plan; return the result
    with its destination and theirs."""
    if result.prediction is None or plan.action is None or result.earlier:
        return result
    folder = plan.target_folder(result.path, result.prediction.label, labels)
    if folder is None:
        return result
    if plan.action == MOVE:
        kept = _why_kept(result.path, given)
        if kept is not None:
            return replace(result, kept=kept)
    companions = finder.of(result.path)
    if plan.action == COPY:
        earlier = copies.find(result.path, folder, companions)
        if earlier is not None:  # a second --copy run leaves things as they are
            went = companion_targets(result.path, companions, earlier)
            return replace(
                result,
                destination=earlier,
                earlier=True,
                companions=tuple(map(Companion, companions, went)),
            )
    placements = plan_group(result.path, companions, folder, plan.action, reserved)
    try:
        targets = place_group(placements, journal, dry_run=plan.dry_run, inside=given or None)
    except GroupFailed as exc:
        return replace(result, error=_group_error(exc, result.path, plan.action))
    if plan.action == COPY:
        copies.add(targets[0])  # so an identical photo later in this run finds this copy
    if cache is not None and not plan.dry_run:
        cache.placed(result.path, targets[0], moved=plan.action == MOVE)  # known at its new place
    return replace(
        result,
        destination=targets[0],
        companions=tuple(map(Companion, companions, targets[1:])),
    )


def exclude_check(paths: Sequence[Path], exclude: Sequence[str]) -> Callable[[Path], bool] | None:
    """Whether a file matches --exclude, relative to the folder given that holds it."""
    spec = exclude_spec(exclude)
    if spec is None:
        return None
    roots = [os.path.abspath(folder) for folder in paths if os.path.isdir(folder)]

    def excluded(path: Path) -> bool:
        absolute = os.path.abspath(path)
        for root in roots:
            if absolute.startswith(root.rstrip(os.sep) + os.sep):
                return spec.match_file(os.path.relpath(absolute, root))
        return False

    return excluded


def _group_error(exc: GroupFailed, photo: Path, action: str) -> str:
    """The one-line reason a photo stayed put: its own, or that of the companion that could not
    go with it."""
    if exc.member == photo:
        message = _without_path(str(exc.reason), photo)
    else:
        past = "moved" if action == MOVE else "copied"
        message = (
            f"companion {exc.member.name} could not be {past} "
            f"({_without_path(str(exc.reason), exc.member)}); the photo and its companions "
            "stayed in place"
        )
    if exc.split:
        message += "; left in their new place: " + "; ".join(exc.split)
    return message


def new_tagger(tagging: TagSettings, classifier: Classifier) -> Tagger:
    """The tagger of a run starting now: its keywords carry the model and today's date."""
    from catsort.tagging.sidecar import Tagger  # only runs that tag need the XML parser

    now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    return Tagger(tagging, classifier.fingerprint, now)


def tag_placed(
    result: PhotoResult,
    plan: SortPlan,
    labels: Sequence[str],
    tagger: Tagger,
    journal: Journal | None,
    given: Sequence[Path] = (),
) -> PhotoResult:
    """Write a cat or dog photo's keyword into its sidecar, where the photo is now (or will be).

    A photo left where it is that is a link, or lies outside the folders ``given`` (reached
    through a folder link), gets no sidecar: it would sit beside the link, not the photo.
    """
    if result.prediction is None or result.error is not None or result.label not in labels:
        return result  # uncertain and other photos get no keyword; failed ones are left alone
    photo, origin = result.path, None
    if result.destination is not None:
        photo = result.destination
        origin = result.path if plan.dry_run and not result.earlier else None
    elif result.kept is not None:
        return result
    else:
        kept = _why_kept(result.path, given)
        if kept is not None:
            return replace(result, kept=kept)
    try:
        written = tagger.write(photo, result.prediction, journal, plan.dry_run, origin)
    except CatsortError as exc:
        return replace(result, error=_without_path(str(exc), result.path))
    return replace(result, sidecar=written.path)


def _why_kept(path: Path, given: Sequence[Path]) -> str | None:
    """Why a photo is not moved although its label says so (a link), or None."""
    if os.path.islink(path):
        return KEPT_LINK
    if not given:
        return None  # nothing to check against: the caller places only what it was given
    try:
        check_inside(path, given)
    except CatsortError:
        return KEPT_OUTSIDE
    return None


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
