"""The Python API: load a model, classify photos, sort, tag or watch them, undo, read results.

``catsort/__init__.py`` re-exports the main names; the command line is one client of these,
and imports nothing else of catsort. Each entry that starts work has a ``prepare_*`` twin that
only checks and plans it (raising CatsortError before anything is touched) and returns the
checked work, to start later: the command line opens its CSV in between.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from catsort.csv_out import open_plan, open_results
from catsort.decision import Prediction
from catsort.errors import FAILED, USAGE, CatsortError, SettingsError
from catsort.images import quiet_pillow_warnings
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import UNFINISHED_RUN, Classifier
from catsort.model import load_model as _load_model
from catsort.names import is_url, shown
from catsort.pipeline import split_threads
from catsort.report.read import ResultsCsv
from catsort.report.read import read_results as _read_results
from catsort.report.summary import Histogram, ReportSummary, summarize
from catsort.report.truth import Evaluation
from catsort.review.review import Review, check_reviewed_csv
from catsort.review.sources import open_source
from catsort.run import Run, prepare_run
from catsort.session import SortSession
from catsort.sorting.journal import JOURNAL_DIR, is_undone, journals_newest_first
from catsort.sorting.journal import undo as _undo
from catsort.sorting.journal import undo_all as _undo_all
from catsort.sorting.restore import UndoResult
from catsort.tagging.sidecar import TagSettings
from catsort.types import (
    COPY,
    MOVE,
    Callbacks,
    Companion,
    PhotoResult,
    Reporter,
    Row,
    RunSettings,
    RunSummary,
    SortPlan,
)
from catsort.watching import StopEvent, Watch, WatchSettings, prepare_watch

if TYPE_CHECKING:
    from catsort.distributed.engine import RayJob, RaySummary
    from catsort.report.html import HtmlReport

__all__ = [
    "COPY",
    "FAILED",
    "JOURNAL_DIR",
    "MOVE",
    "OTHER",
    "UNCERTAIN",
    "USAGE",
    "Callbacks",
    "CatsortError",
    "Classifier",
    "Companion",
    "Evaluation",
    "Histogram",
    "PhotoResult",
    "Prediction",
    "ReportSummary",
    "Reporter",
    "ResultsCsv",
    "Review",
    "Row",
    "Run",
    "RunSettings",
    "RunSummary",
    "SettingsError",
    "SortPlan",
    "SortSession",
    "TagSettings",
    "UndoResult",
    "Watch",
    "WatchSettings",
    "classify",
    "is_url",
    "load_model",
    "open_plan",
    "open_results",
    "open_review",
    "pending_journals",
    "plan_run",
    "plan_watch",
    "prepare_ray",
    "quiet_pillow_warnings",
    "read_results",
    "run_ray",
    "serve_review",
    "shown",
    "sort_photos",
    "split_threads",
    "summarize",
    "tag_photos",
    "undo",
    "undo_all",
    "watch",
    "write_html",
]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
PathLike = str | os.PathLike[str]


def load_model(path: PathLike | None = None, *, threads: int | None = None) -> Classifier:
    """Load a model once: the shipped one, or a folder, ``.json`` or ``.tflite`` you name.

    ``threads``: how many threads a run with it uses in all (default: one per core); the
    model runs its share of them in each worker, the way ``classify`` and ``sort_photos`` use it.
    An unfinished ``catsort train`` run is refused, whatever it holds.
    """
    if path is not None:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        if (folder / UNFINISHED_RUN).is_file():
            # Killed while exporting, it may hold a model that never passed its checks.
            raise CatsortError(
                f"{folder}: an unfinished catsort train run, not a model; go on with it with "
                f"catsort train --resume {shlex.quote(str(folder))}"
            )
    return _load_model(None if path is None else Path(path), split_threads(threads)[1])


def classify(
    paths: Paths,
    model: Classifier | None = None,
    *,
    recursive: bool = True,
    threshold: float | None = None,
    use_gate: bool = True,
    gate_threshold: float | None = None,
    follow_links: bool = False,
    exclude: Iterable[str] = (),
    cache: bool = True,
    videos: bool = True,
) -> Iterator[PhotoResult]:
    """Yield one PhotoResult per photo under ``paths`` (files, or folders walked), in order.

    Nothing is moved. A file that cannot be read is a result with ``status == "error"`` and a
    one-line ``error``; the iteration goes on. Applications' libraries, NAS and trash folders
    and (unless ``follow_links``) folder links are not walked, nor what matches an ``exclude``
    pattern (gitignore-style). Photos classified before and unchanged since come from the
    results cache (``cached``), as ``catsort classify --csv`` has them; ``cache=False`` neither
    reads nor writes it. Videos are classified from a few of their frames (their result's
    ``frames`` says how many), but for a Live Photo's video, which goes with its photo;
    ``videos=False`` leaves them alone. Raises CatsortError for a path that does not exist, or
    settings that cannot work (a SettingsError naming them).
    """
    settings = RunSettings(
        recursive=recursive,
        threshold=threshold,
        use_gate=use_gate,
        gate_threshold=gate_threshold,
        follow_links=follow_links,
        exclude=tuple(exclude),
        cache=cache,
        videos=videos,
    )
    run = plan_run(paths, model, settings=settings)
    yield from run.results()


def plan_run(
    paths: Paths,
    model: Classifier | None = None,
    *,
    action: Literal["move", "copy"] | None = None,
    dest: PathLike | None = None,
    other_dest: PathLike | None = None,
    dry_run: bool = False,
    flat: bool = False,
    tag: TagSettings | None = None,
    settings: RunSettings | None = None,
) -> Run:
    """Check and plan a run without starting it: a ``Run`` whose ``start(reporter)`` sorts
    (or only classifies, without ``action`` or ``tag``) and returns the RunSummary.

    ``plan`` says where photos go (``dest`` filled in), ``photos()`` walks what it will read.
    Raises CatsortError for what cannot work: a path that does not exist, settings that do
    not go together or not with the model (a SettingsError naming them, ``dest=``).
    """
    classifier = model if model is not None else load_model()
    return prepare_run(
        _as_paths(paths),
        classifier,
        action=action,
        dest=None if dest is None else Path(dest),
        other_dest=None if other_dest is None else Path(other_dest),
        dry_run=dry_run,
        flat=flat,
        tagging=tag,
        settings=settings,
    )


def sort_photos(
    paths: Paths,
    action: Literal["move", "copy"],
    model: Classifier | None = None,
    *,
    dest: PathLike | None = None,
    other_dest: PathLike | None = None,
    dry_run: bool = False,
    flat: bool = False,
    settings: RunSettings | None = None,
    tag: TagSettings | None = None,
    reporter: Reporter | None = None,
    on_result: Callable[[PhotoResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    """Classify the photos under ``paths`` and move or copy each into ``<dest>/<label>/``.

    Each photo keeps its folder's path relative to the folder given (``flat``: straight into
    the label folder), and its companion files (sidecars, RAW, Live Photo video) go with it.
    ``dest`` defaults to the one folder given. Every move is journaled first (the summary's
    ``journal``), so ``undo(summary.journal)`` puts everything back; ``dry_run`` plans the same
    destinations and touches nothing. ``reporter`` hears of each result and note (a stale lock
    taken over, an interrupted run settled); ``on_result`` and ``on_note`` are shortcuts for a
    reporter made of those functions. With ``tag``, each cat or dog photo's keyword also goes
    into its XMP sidecar where it went.
    """
    if action not in (MOVE, COPY):
        raise ValueError(f"action must be 'move' or 'copy', not {action!r}")
    run = plan_run(
        paths,
        model,
        action=action,
        dest=dest,
        other_dest=other_dest,
        dry_run=dry_run,
        flat=flat,
        tag=tag,
        settings=settings,
    )
    return run.start(_reporter(reporter, on_result, on_note))


def tag_photos(
    paths: Paths,
    model: Classifier | None = None,
    *,
    tag: TagSettings | None = None,
    dry_run: bool = False,
    settings: RunSettings | None = None,
    reporter: Reporter | None = None,
    on_result: Callable[[PhotoResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    """Classify the photos under ``paths`` and write each cat or dog photo's label as a keyword
    into its XMP sidecar; no photo moves.

    Existing sidecars are merged into, everything else in them kept; each result's ``sidecar``
    says which file holds the keyword. The writes are journaled (the summary's ``journal``, in
    the folder given), so ``undo(summary.journal)`` puts every sidecar back as it was.
    ``dry_run`` reads and merges but writes nothing.
    """
    run = plan_run(
        paths,
        model,
        dry_run=dry_run,
        tag=tag if tag is not None else TagSettings(),
        settings=settings,
    )
    return run.start(_reporter(reporter, on_result, on_note))


def plan_watch(
    folder: PathLike,
    model: Classifier | None = None,
    *,
    action: Literal["move", "copy"] | None = None,
    dest: PathLike | None = None,
    other_dest: PathLike | None = None,
    tag: TagSettings | None = None,
    settings: RunSettings | None = None,
    watching: WatchSettings | None = None,
) -> Watch:
    """Check and plan a watch without starting it: a ``Watch`` whose ``start(stop, reporter)``
    runs it. Raises CatsortError for settings that cannot work."""
    classifier = model if model is not None else load_model()
    return prepare_watch(
        Path(folder),
        classifier,
        action=action,
        dest=None if dest is None else Path(dest),
        other_dest=None if other_dest is None else Path(other_dest),
        tagging=tag,
        settings=settings,
        watching=watching,
    )


def watch(
    folder: PathLike,
    model: Classifier | None = None,
    *,
    action: Literal["move", "copy"] | None = None,
    dest: PathLike | None = None,
    other_dest: PathLike | None = None,
    tag: TagSettings | None = None,
    settings: RunSettings | None = None,
    watching: WatchSettings | None = None,
    stop: StopEvent | None = None,
    reporter: Reporter | None = None,
) -> RunSummary:
    """Sort what is in ``folder``, then each photo that arrives in it, until ``stop`` is set.

    A photo is taken once it has stayed the same for ``watching.settle`` seconds and decodes;
    it goes where ``catsort classify`` would put it (``action``, ``dest``, ``other_dest``;
    ``tag``: its keyword into its sidecar), through one sort session for the whole watch.
    ``stop`` is a ``threading.Event`` (or anything with ``is_set``); ``reporter`` hears of
    each photo, and ``ready`` once the watch listens. For example, for a few seconds::

        import threading

        import catsort

        stop = threading.Event()
        threading.Timer(3.0, stop.set).start()  # a service sets it on SIGTERM instead
        summary = catsort.watch(
            "Inbox", action="move", stop=stop, watching=catsort.WatchSettings(settle=0.5)
        )
        print(summary.counts, summary.journal)
    """
    planned = plan_watch(
        folder,
        model,
        action=action,
        dest=dest,
        other_dest=other_dest,
        tag=tag,
        settings=settings,
        watching=watching,
    )
    return planned.start(stop, reporter)


def prepare_ray(
    sources: Sequence[str],
    output: str,
    model: PathLike | None = None,
    settings: RunSettings | None = None,
    *,
    address: str | None = None,
    part_rows: int | None = None,
) -> RayJob:
    """Check a Ray run without starting it: a ``RayJob`` whose ``start(reporter)`` runs it.

    Raises CatsortError when the distributed extra is missing, for settings that cannot work,
    a source that cannot be reached or an output that is a file.
    """
    from catsort.distributed.engine import PART_ROWS, prepare  # Ray only for those who ask

    return prepare(
        list(sources),
        output,
        None if model is None else Path(model),
        settings,
        address=address,
        part_rows=PART_ROWS if part_rows is None else part_rows,
    )


def run_ray(
    sources: Sequence[str],
    output: str,
    model: PathLike | None = None,
    settings: RunSettings | None = None,
    *,
    address: str | None = None,
    part_rows: int | None = None,
    reporter: Reporter | None = None,
) -> RaySummary:
    """Classify the photos under ``sources`` (URLs such as ``s3://bucket/photos``, or local
    folders) on Ray Data, into Parquet parts in ``output`` (a folder or a bucket prefix).

    Needs the distributed extra (``pip install "catsort[distributed]"``). Ray runs on this
    machine's cores, or on the cluster at ``address``. A rerun skips the photos already in
    ``output``; ``read_results(output)`` reads them back as a results CSV is read::

        import catsort

        summary = catsort.run_ray(["s3://pets/library"], "s3://results/pets")
        print(summary.counts, summary.already)
        rows = catsort.read_results("s3://results/pets").rows
    """
    job = prepare_ray(sources, output, model, settings, address=address, part_rows=part_rows)
    return job.start(reporter)


def read_results(source: PathLike) -> ResultsCsv:
    """Read a results CSV that ``catsort classify --csv`` wrote, or the Ray engine's Parquet
    results (a folder of parts, one part, or a URL such as ``s3://bucket/results`` with the
    distributed extra); raise CatsortError when it is unusable::

        import catsort

        results = catsort.read_results("results.csv")  # catsort classify Photos --csv ...
        for row in results.rows:
            print(row.path, row.label or row.error, row.confidence, row.destination)
        print(catsort.summarize(results).to_dict()["total"])
    """
    if is_url(source):
        from catsort.distributed.results import register  # the extra's file systems

        register()
    return _read_results(source if isinstance(source, str) else Path(source))


def write_html(
    results: ResultsCsv,
    summary: ReportSummary,
    out: PathLike,
    limit: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> HtmlReport:
    """Write ``catsort report --html``'s self-contained page to ``out``: thumbnails per label,
    least confident first, at most ``limit`` each (0: all); ``progress(done, total)`` hears of
    the thumbnails made. Only an earlier catsort report is ever replaced."""
    from catsort.report.html import write_html as write  # Pillow's resizing: only for a page

    return write(results, summary, Path(out), limit, progress)


def open_review(
    source: PathLike,
    model: Classifier | None = None,
    *,
    threshold: float | None = None,
    gate_threshold: float | None = None,
    on_photo: Callable[[PhotoResult], None] | None = None,
) -> Review:
    """Open a review of ``source``: a library a ``--move``, ``--copy`` or ``--tag`` run sorted
    or tagged, or the results CSV of a run that only classified. Close it, or use ``with``.

    It holds the library's lock (a second review, or a sort into it, waits: DestinationBusy,
    a CatsortError), reads its photos again through the results cache (``on_photo`` hears of
    each) and orders them for a person: uncertain, other, then the labels, least sure first.
    ``Review.decide(ids, label)`` acts on a person's label as the run would have, journaled,
    and remembers it; ``undo()`` takes the last one back; ``export(folder)`` writes the
    decisions as class folders for ``catsort train --data``::

        import catsort

        with catsort.open_review("results.csv") as review:  # catsort classify ... --csv
            first = review.items[0]  # the photo the model was least sure of
            print(first.shown, first.model_label, round(first.prediction.confidence, 2))
            review.decide([first.id], "dog")
            print(review.summary().decided, review.summary().reviewed_csv.name)
    """
    classifier = model if model is not None else load_model()
    settings = RunSettings(threshold=threshold, gate_threshold=gate_threshold)
    review = Review(open_source(Path(source), classifier, settings, on_photo))
    try:
        check_reviewed_csv(review)
    except BaseException:
        review.close()
        raise
    return review


def serve_review(
    review: Review,
    *,
    port: int = 0,
    open_browser: bool = True,
    on_url: Callable[[str], None] | None = None,
) -> None:
    """Serve ``review``'s page on 127.0.0.1 (``port``: 0 for a free one) until Ctrl-C, which
    ends it with KeyboardInterrupt. ``on_url`` hears the URL with its token (default: print
    it); the browser opens it unless ``open_browser`` is False. Raises CatsortError when the
    port cannot be listened on."""
    import webbrowser

    from catsort.review.server import ReviewServer  # Starlette and uvicorn: only for a page

    server = ReviewServer(review, port)
    (on_url or print)(server.url)
    if open_browser:
        webbrowser.open(server.url)
    server.run()


def undo(journal: PathLike) -> UndoResult:
    """Put back every file a ``sort_photos`` run (or ``catsort classify --move``) moved."""
    return _undo(Path(journal))


def undo_all(dest: PathLike) -> list[UndoResult]:
    """Put back every sort into ``dest``: each journal in ``dest/.catsort``, newest first.

    Journals already undone are passed over (their result says ``already_undone``); each
    result's ``journal`` names its journal.
    """
    return [result for _, result in _undo_all(Path(dest))]


def pending_journals(dest: PathLike) -> list[Path]:
    """The journals in ``dest/.catsort`` not undone yet, newest first: what ``undo_all`` would
    put back."""
    folder = Path(dest) / JOURNAL_DIR
    return [journal for journal in journals_newest_first(folder) if not is_undone(journal)]


def _reporter(
    reporter: Reporter | None,
    on_result: Callable[[PhotoResult], None] | None,
    on_note: Callable[[str], None] | None,
) -> Reporter | None:
    if on_result is None and on_note is None:
        return reporter
    if reporter is not None:
        raise ValueError("pass a reporter, or on_result and on_note, not both")
    return Callbacks(on_result=on_result, on_note=on_note)


def _as_paths(paths: Paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(path) for path in paths]
