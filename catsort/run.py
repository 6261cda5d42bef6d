"""A classify run: which folder each photo goes to, moving or copying it, and the summary."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from catsort.cache import CACHE_NAME, ResultsCache, cache_location, fingerprint
from catsort.errors import CatsortError
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier
from catsort.pipeline import PhotoResult, classify_paths
from catsort.sorting.copies import EarlierCopies
from catsort.sorting.jobs import Job, start_job
from catsort.sorting.journal import JOURNAL_DIR, Journal, recover
from catsort.sorting.lock import DestinationLock
from catsort.sorting.place import COPY, MOVE, place
from catsort.sorting.place import plan as plan_placement
from catsort.walk import check_inputs, find_images


@dataclass(frozen=True)
class SortPlan:
    """Where classified photos go: ``<dest>/<label>/``, ``other`` to ``other_dest`` if given."""

    action: str | None = None  # MOVE, COPY, or None to leave every photo where it is
    dest: Path | None = None
    other_dest: Path | None = None
    dry_run: bool = False

    def folder_for(self, label: str, labels: Sequence[str]) -> Path | None:
        """The folder a photo with this label goes to, or None when it stays where it is."""
        if self.action is None or self.dest is None:
            return None
        if label in labels:
            return self.dest / label
        if label == OTHER and self.other_dest is not None:
            return self.other_dest
        return None  # uncertain (and other without --other-dest) stay put

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
) -> SortPlan:
    """Check the sorting options together and fill in the default destination."""
    if action is None:
        for given, option in (
            (dest, "--dest"),
            (other_dest, "--other-dest"),
            (dry_run or None, "--dry-run"),
        ):
            if given is not None:
                raise CatsortError(f"{option} needs --move or --copy")
        return SortPlan()
    if action not in (MOVE, COPY):
        raise ValueError(f"unknown action {action!r}")
    return SortPlan(action, dest if dest is not None else default_dest(paths), other_dest, dry_run)


def default_dest(paths: Sequence[Path]) -> Path:
    """The folder given (or the folder of the files given), where the label folders go."""
    roots = {Path(p) if os.path.isdir(p) else Path(p).parent for p in paths}
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
    for path in paths:
        folder = filled.get(os.path.realpath(path)) if os.path.isdir(path) else None
        if folder is not None:
            raise CatsortError(
                f"{path}: is where this run puts sorted photos ({folder}), so nothing in it "
                "would be classified; choose another --dest or --other-dest"
            )


@dataclass(frozen=True)
class RunSettings:
    """How to walk and decide: the classify options that are not about sorting."""

    recursive: bool = True
    threshold: float | None = None
    use_gate: bool = True
    gate_threshold: float | None = None
    batch_size: int = 8
    workers: int | None = None
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
    earlier: int = 0  # files an earlier run had already copied: nothing to do for them
    elapsed: float = 0.0
    journal: Path | None = None  # the journal of this run's moves and copies, if any
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

    def add(self, result: PhotoResult) -> None:
        """Count one result."""
        if result.cached:
            self.cached += 1
        if result.error is not None:
            self.errors += 1
            self.reasons[result.error] += 1
        elif result.skipped is not None:
            self.skipped += 1
        elif result.prediction is not None:
            self.counts[result.prediction.label] += 1
        if result.destination is not None and result.error is None:
            if result.earlier:
                self.earlier += 1
            else:
                self.placed += 1


def find_inputs(
    paths: Sequence[Path],
    plan: SortPlan,
    labels: Sequence[str],
    recursive: bool = True,
    on_error: Callable[[Path, str], None] | None = None,
) -> Iterator[Path]:
    """The photos a run looks at: the walk, leaving out the folders the plan fills."""
    return find_images(
        paths, recursive=recursive, skip_dirs=plan.folders(labels), on_error=on_error
    )


def run_classify(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings = RunSettings(),
    on_result: Callable[[PhotoResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> RunSummary:
    """Classify every photo under ``paths``, place it per ``plan``, and report each result.

    Photos the results cache knows unchanged are not read again (``settings.cache``,
    ``settings.refresh``). A --move/--copy run that repeats an interrupted one finishes its job:
    the photos the interrupted runs moved are reported too, as placed before (``earlier``).
    ``on_warning`` (default: ``on_note``) hears of a results cache that cannot be used.
    """
    check_inputs(paths)
    metadata = classifier.metadata
    check_plan(plan, paths, metadata.labels)
    check_settings(classifier, settings)
    summary = RunSummary(labels=metadata.labels)
    started = time.perf_counter()
    warn = on_warning if on_warning is not None else on_note
    writing = plan.action is not None and not plan.dry_run
    if not writing:
        cache = open_cache(paths, classifier, plan, settings, warn)
        try:
            return _run(paths, classifier, plan, settings, summary, on_result, started, cache)
        finally:
            if cache is not None:
                cache.close()
    assert plan.dest is not None and plan.action is not None
    # One run at a time per destination: a second one would race this one for the same names.
    with DestinationLock.acquire(plan.dest / JOURNAL_DIR, on_note):
        for message in recover(plan.dest):
            if on_note is not None:
                on_note(message)
        job = start_job(plan.dest, list(paths), plan.action, plan.other_dest)
        cache = open_cache(paths, classifier, plan, settings, warn)
        try:
            return _run(paths, classifier, plan, settings, summary, on_result, started, cache, job)
        finally:
            if cache is not None:
                cache.close()


def open_cache(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings,
    on_warning: Callable[[str], None] | None = None,
) -> ResultsCache | None:
    """The results cache of this run: beside the journals for --move/--copy, else in the
    user's cache folder (keyed by the folder given), so a CSV-only run writes nothing there.

    None when the settings turn it off, or when it cannot be used (after a warning). A dry run
    uses the destination's cache only if it is already there.
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
        path = cache_location(base)
    return ResultsCache.open(
        path,
        base,
        fingerprint(classifier),
        refresh=settings.refresh,
        create=not plan.dry_run,
        on_warning=on_warning,
    )


def check_settings(classifier: Classifier, settings: RunSettings) -> None:
    """Raise CatsortError (exit 2) for settings this model cannot honour."""
    if settings.gate_threshold is not None and not classifier.has_gate:
        raise CatsortError(f"{classifier.path}: this model has no pet gate (--gate-threshold)")


def classify_inputs(
    paths: Sequence[Path],
    classifier: Classifier,
    settings: RunSettings = RunSettings(),
    skip_dirs: Sequence[Path] = (),
    cache: ResultsCache | None = None,
) -> Iterator[PhotoResult]:
    """Walk ``paths`` and classify each photo, in order; what the walk passed over (an
    unreadable folder) comes as an error result in its place among them. Photos the ``cache``
    knows come from it."""
    walk_errors: list[PhotoResult] = []
    walk = find_images(
        paths,
        recursive=settings.recursive,
        skip_dirs=skip_dirs,
        on_error=lambda path, reason: walk_errors.append(PhotoResult(path, error=reason)),
    )
    results = classify_paths(
        walk,
        classifier,
        batch_size=settings.batch_size,
        workers=settings.workers,
        threshold=settings.threshold,
        gate_threshold=settings.gate_threshold,
        use_gate=settings.use_gate,
        cache=cache,
    )
    for result in results:
        yield from walk_errors
        walk_errors.clear()
        yield result
    yield from walk_errors  # problems met after the last photo


def _run(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings,
    summary: RunSummary,
    on_result: Callable[[PhotoResult], None] | None,
    started: float,
    cache: ResultsCache | None = None,
    job: Job | None = None,
) -> RunSummary:
    metadata = classifier.metadata
    writing = plan.action is not None and not plan.dry_run
    reserved: set[Path] | None = set() if plan.dry_run else None
    copies = EarlierCopies()
    with Journal.create(plan.dest) if writing else nullcontext() as journal:  # type: ignore
        if job is not None and journal is not None:
            job.add(journal.path)
        results: Iterator[PhotoResult] = classify_inputs(
            paths, classifier, settings, plan.folders(metadata.labels), cache
        )
        if job is not None and job.resumed:
            results = itertools.chain(
                _earlier_results(job, paths, classifier, settings, cache), results
            )
        for result in results:
            placed = _placed(result, plan, metadata.labels, journal, reserved, copies, cache)
            summary.add(placed)
            if on_result is not None:
                on_result(placed)
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
    summary.elapsed = time.perf_counter() - started
    return summary


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
    results = classify_paths(
        (move.target for move in moves),
        classifier,
        batch_size=settings.batch_size,
        workers=settings.workers,
        threshold=settings.threshold,
        gate_threshold=settings.gate_threshold,
        use_gate=settings.use_gate,
        cache=cache,
    )
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
    cache: ResultsCache | None = None,
) -> PhotoResult:
    """Move or copy one classified photo per the plan; return the result with its destination."""
    if result.prediction is None or plan.action is None or result.earlier:
        return result
    folder = plan.folder_for(result.prediction.label, labels)
    if folder is None:
        return result
    if plan.action == COPY:
        earlier = copies.find(result.path, folder)
        if earlier is not None:  # a second --copy run leaves things as they are
            return replace(result, destination=earlier, earlier=True)
    placement = plan_placement(result.path, folder, plan.action, reserved)
    try:
        target = place(placement, journal, dry_run=plan.dry_run)
    except CatsortError as exc:
        return replace(result, error=_without_path(str(exc), result.path))
    if plan.action == COPY:
        copies.add(target)  # so an identical photo later in this run finds this copy
    if cache is not None and not plan.dry_run:
        cache.placed(result.path, target, moved=plan.action == MOVE)  # known at its new place
    return replace(result, destination=target)


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
