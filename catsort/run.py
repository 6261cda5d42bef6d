"""A classify run: which folder each photo goes to, moving or copying it, and the summary."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from catsort.errors import CatsortError
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier
from catsort.pipeline import PhotoResult, classify_paths
from catsort.sorting.copies import EarlierCopies
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
) -> RunSummary:
    """Classify every photo under ``paths``, place it per ``plan``, and report each result."""
    check_inputs(paths)
    metadata = classifier.metadata
    check_plan(plan, paths, metadata.labels)
    check_settings(classifier, settings)
    summary = RunSummary(labels=metadata.labels)
    started = time.perf_counter()
    writing = plan.action is not None and not plan.dry_run
    if not writing:
        return _run(paths, classifier, plan, settings, summary, on_result, started)
    assert plan.dest is not None
    # One run at a time per destination: a second one would race this one for the same names.
    with DestinationLock.acquire(plan.dest / JOURNAL_DIR, on_note):
        for message in recover(plan.dest):
            if on_note is not None:
                on_note(message)
        return _run(paths, classifier, plan, settings, summary, on_result, started)


def check_settings(classifier: Classifier, settings: RunSettings) -> None:
    """Raise CatsortError (exit 2) for settings this model cannot honour."""
    if settings.gate_threshold is not None and not classifier.has_gate:
        raise CatsortError(f"{classifier.path}: this model has no pet gate (--gate-threshold)")


def classify_inputs(
    paths: Sequence[Path],
    classifier: Classifier,
    settings: RunSettings = RunSettings(),
    skip_dirs: Sequence[Path] = (),
) -> Iterator[PhotoResult]:
    """Walk ``paths`` and classify each photo, in order; what the walk passed over (an
    unreadable folder) comes as an error result in its place among them."""
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
) -> RunSummary:
    metadata = classifier.metadata
    writing = plan.action is not None and not plan.dry_run
    reserved: set[Path] | None = set() if plan.dry_run else None
    copies = EarlierCopies()
    with Journal.create(plan.dest) if writing else nullcontext() as journal:  # type: ignore
        results = classify_inputs(paths, classifier, settings, plan.folders(metadata.labels))
        for result in results:
            placed = _placed(result, plan, metadata.labels, journal, reserved, copies)
            summary.add(placed)
            if on_result is not None:
                on_result(placed)
        if journal is not None and journal.completed:
            summary.journal = journal.path  # nothing to put back when every operation failed
    summary.elapsed = time.perf_counter() - started
    return summary


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

    def place(self, result: PhotoResult) -> PhotoResult:
        """Move or copy one classified photo; return the result with its destination."""
        return _placed(result, self.plan, self.labels, self.journal, self.reserved, self.copies)


def _placed(
    result: PhotoResult,
    plan: SortPlan,
    labels: Sequence[str],
    journal: Journal | None,
    reserved: set[Path] | None,
    copies: EarlierCopies,
) -> PhotoResult:
    """Move or copy one classified photo per the plan; return the result with its destination."""
    if result.prediction is None or plan.action is None:
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
    return replace(result, destination=target)


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
