"""A classify run: walk the inputs, classify each photo, hand each result to a sort session.

``prepare_run`` checks a run before anything is read or written and returns a ``Run``; its
``start`` sorts (or only classifies) and returns the summary, its ``results`` yields each
result as it comes. The session (catsort.session) does everything that touches the disk.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from catsort.cache import ResultsCache
from catsort.model import Classifier
from catsort.pipeline import classify_paths
from catsort.plan import check_plan, make_plan
from catsort.session import SortSession
from catsort.sorting.companions import CompanionFinder, without_companions
from catsort.sorting.jobs import EarlierMove
from catsort.tagging.sidecar import TagSettings
from catsort.types import PhotoResult, Reporter, RunSettings, RunSummary, SortPlan
from catsort.walk import WalkTally, check_inputs, exclude_check, find_images


@dataclass(frozen=True)
class Run:
    """A checked run: what to read, the model, where photos go, how to decide, and tags."""

    paths: tuple[Path, ...]
    classifier: Classifier
    plan: SortPlan
    settings: RunSettings = field(default_factory=RunSettings)
    tagging: TagSettings | None = None

    def photos(self) -> Iterator[Path]:
        """The photos the run will look at (the walk alone: for a progress bar's total)."""
        return find_inputs(
            self.paths,
            self.plan,
            self.classifier.metadata.labels,
            self.settings.recursive,
            follow_links=self.settings.follow_links,
            exclude=self.settings.exclude,
            videos=self.settings.videos,
        )

    def start(self, reporter: Reporter | None = None) -> RunSummary:
        """Classify and sort every photo, telling ``reporter`` of each; return the summary."""
        return run_classify(
            self.paths, self.classifier, self.plan, self.settings, reporter, self.tagging
        )

    def results(self, reporter: Reporter | None = None) -> Iterator[PhotoResult]:
        """Classify and sort the photos one by one, yielding each result as the session left
        it; a run stopped part way (the iterator closed) closes its session."""
        session = SortSession(
            self.classifier,
            self.plan,
            self.settings,
            given=self.paths,
            tagging=self.tagging,
            reporter=reporter,
        )
        return sorted_results(self.paths, session)


def prepare_run(
    paths: Sequence[Path],
    classifier: Classifier,
    *,
    action: str | None = None,
    dest: Path | None = None,
    other_dest: Path | None = None,
    dry_run: bool = False,
    flat: bool = False,
    tagging: TagSettings | None = None,
    settings: RunSettings | None = None,
) -> Run:
    """Check a run's inputs and settings together and plan it; raise CatsortError (a
    SettingsError, naming the settings) for what cannot work, before anything is touched."""
    check_inputs(paths)
    settings = settings if settings is not None else RunSettings()
    labels = classifier.metadata.labels
    plan = make_plan(paths, action, dest, other_dest, dry_run, flat, labels, tag=bool(tagging))
    check_plan(plan, paths, labels)
    settings.check(classifier)
    return Run(tuple(Path(path) for path in paths), classifier, plan, settings, tagging)


def run_classify(
    paths: Sequence[Path],
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings | None = None,
    reporter: Reporter | None = None,
    tagging: TagSettings | None = None,
) -> RunSummary:
    """Classify every photo under ``paths``, place it per ``plan``, and report each result.

    Photos the results cache knows unchanged are not read again (``settings.cache``,
    ``settings.refresh``). A --move/--copy run that repeats an interrupted one finishes its job:
    the photos the interrupted runs moved are reported too, as placed before (``earlier``).
    With ``tagging``, each cat or dog photo's keyword goes into its XMP sidecar, where the photo
    ends up (catsort.tagging).
    """
    check_inputs(paths)
    session = SortSession(
        classifier, plan, settings, given=paths, tagging=tagging, reporter=reporter
    )
    for _ in sorted_results(paths, session):
        pass
    return session.summary


def sorted_results(paths: Sequence[Path], session: SortSession) -> Iterator[PhotoResult]:
    """Walk, classify, and hand each result to ``session`` (opened and closed here); yield
    each as the session left it."""
    with session:
        classifier, settings = session.classifier, session.settings
        skips = session.plan.walk_skips(paths, session.labels)
        results: Iterator[PhotoResult] = classify_inputs(
            paths,
            classifier,
            settings,
            skips,
            session.finder,
            session.tally,
            session.cache,
            moved=session.whereabouts.find,
            placed=session.placed,
        )
        earlier = session.earlier_moves()
        if earlier:
            results = itertools.chain(
                _earlier_results(earlier, paths, classifier, settings, session.cache), results
            )
        for result in results:
            yield session.handle(result)
            if session.stopped:  # a file it had to write could not be: summary.stopped says
                return
        session.finish()  # only once the walk went through: a run stopped part way resumes


def find_inputs(
    paths: Sequence[Path],
    plan: SortPlan,
    labels: Sequence[str],
    recursive: bool = True,
    on_error: Callable[[Path, str], None] | None = None,
    *,
    follow_links: bool = False,
    exclude: Sequence[str] = (),
    videos: bool = False,
) -> Iterator[Path]:
    """The photos (and with ``videos``, the videos) a run looks at: the walk, leaving out the
    folders the plan fills and the files that go with another (companions)."""
    walk = find_images(
        paths,
        recursive=recursive,
        skip_dirs=plan.walk_skips(paths, labels),
        on_error=on_error,
        follow_links=follow_links,
        exclude=exclude,
        videos=videos,
    )
    finder = CompanionFinder(ignore=exclude_check(paths, exclude), videos=videos)
    return without_companions(walk, finder, paths)


def classify_inputs(
    paths: Sequence[Path],
    classifier: Classifier,
    settings: RunSettings | None = None,
    skip_dirs: Sequence[Path] = (),
    companions: CompanionFinder | None = None,
    tally: WalkTally | None = None,
    cache: ResultsCache | None = None,
    *,
    moved: Callable[[Path], Path | None] | None = None,
    placed: Collection[tuple[int, int]] = (),
) -> Iterator[PhotoResult]:
    """Walk ``paths`` and classify each photo (and video, unless ``settings.videos`` is
    False), in order; what the walk passed over (an unreadable folder) comes as an error result
    in its place among them, and what it left alone (libraries, links, non-photos) is recorded
    in ``tally``. A RAW file beside its JPEG or HEIC is no photo of its own, nor a Live Photo's
    video: each goes with that one. Photos the ``cache`` knows come from it. A link left
    pointing to nothing by a catsort move (``moved`` says where its photo went) is no error: it
    is left alone with the links to photos found elsewhere. Files the run ``placed`` (device,
    inode) are not walked again."""
    settings = settings if settings is not None else RunSettings()
    walk_errors: list[PhotoResult] = []
    walk = find_images(
        paths,
        recursive=settings.recursive,
        skip_dirs=skip_dirs,
        on_error=lambda path, reason: walk_errors.append(PhotoResult(path, error=reason)),
        follow_links=settings.follow_links,
        exclude=settings.exclude,
        tally=tally,
        moved=moved,
        placed=placed,
        videos=settings.videos,
    )
    finder = companions or CompanionFinder(
        ignore=exclude_check(paths, settings.exclude), videos=settings.videos
    )
    photos = without_companions(walk, finder, paths)
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


def _earlier_results(
    moves: Sequence[EarlierMove],
    paths: Sequence[Path],
    classifier: Classifier,
    settings: RunSettings,
    cache: ResultsCache | None,
) -> Iterator[PhotoResult]:
    """The photos the interrupted runs of this job moved, at their new place (from the cache,
    where it knows them), reported under the path they had, as placed before."""
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
