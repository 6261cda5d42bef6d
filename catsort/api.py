"""The Python API: load a model, classify photos, sort them, undo a sort.

``catsort/__init__.py`` re-exports these names; the command line is one client of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from catsort.distributed import results as _url_results  # noqa: F401 - read_results reads URLs
from catsort.model import Classifier
from catsort.model import load_model as _load_model
from catsort.pipeline import PhotoResult, split_threads
from catsort.report.read import ResultsCsv, read_results
from catsort.run import (
    RunSettings,
    RunSummary,
    check_settings,
    classify_inputs,
    make_plan,
    run_classify,
)
from catsort.sorting.journal import undo as _undo
from catsort.sorting.journal import undo_all as _undo_all
from catsort.sorting.place import COPY, MOVE
from catsort.sorting.restore import UndoResult
from catsort.walk import check_inputs

if TYPE_CHECKING:
    from catsort.tagging.sidecar import TagSettings

__all__ = [
    "ResultsCsv",
    "classify",
    "load_model",
    "read_results",
    "sort_photos",
    "tag_photos",
    "undo",
    "undo_all",
]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def load_model(path: str | os.PathLike[str] | None = None) -> Classifier:
    """Load a model once: the shipped one, or a folder, ``.json`` or ``.tflite`` you name.

    The model runs one thread per worker, the way ``classify`` and ``sort_photos`` use it.
    """
    return _load_model(None if path is None else Path(path), split_threads()[1])


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
) -> Iterator[PhotoResult]:
    """Yield one PhotoResult per photo under ``paths`` (files, or folders walked), in order.

    Nothing is moved. A file that cannot be read is a result with ``status == "error"`` and a
    one-line ``error``; the iteration goes on. Applications' libraries, NAS and trash folders
    and (unless ``follow_links``) folder links are not walked, nor what matches an ``exclude``
    pattern (gitignore-style). Raises CatsortError for a path that does not exist.
    """
    inputs = _as_paths(paths)
    check_inputs(inputs)
    classifier = model if model is not None else load_model()
    settings = RunSettings(
        recursive=recursive,
        threshold=threshold,
        use_gate=use_gate,
        gate_threshold=gate_threshold,
        follow_links=follow_links,
        exclude=tuple(exclude),
    )
    check_settings(classifier, settings)
    yield from classify_inputs(inputs, classifier, settings)


def sort_photos(
    paths: Paths,
    action: Literal["move", "copy"],
    model: Classifier | None = None,
    *,
    dest: str | os.PathLike[str] | None = None,
    other_dest: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    flat: bool = False,
    settings: RunSettings | None = None,
    on_result: Callable[[PhotoResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    tag: TagSettings | None = None,
) -> RunSummary:
    """Classify the photos under ``paths`` and move or copy each into ``<dest>/<label>/``.

    Each photo keeps its folder's path relative to the folder given (``flat``: straight into
    the label folder), and its companion files (sidecars, RAW, Live Photo video) go with it.
    ``dest`` defaults to the one folder given. Every move is journaled first (the summary's
    ``journal``), so ``undo(summary.journal)`` puts everything back; ``dry_run`` plans the same
    destinations and touches nothing. ``on_result`` is called with each photo's result,
    ``on_note`` with each note (a stale lock taken over, an interrupted run settled). With
    ``tag``, each cat or dog photo's keyword also goes into its XMP sidecar where it went.
    """
    if action not in (MOVE, COPY):
        raise ValueError(f"action must be 'move' or 'copy', not {action!r}")
    inputs = _as_paths(paths)
    check_inputs(inputs)
    classifier = model if model is not None else load_model()
    plan = make_plan(
        inputs,
        action,
        None if dest is None else Path(dest),
        None if other_dest is None else Path(other_dest),
        dry_run,
        flat,
        classifier.metadata.labels,
    )
    return run_classify(
        inputs, classifier, plan, settings or RunSettings(), on_result, on_note, tag
    )


def tag_photos(
    paths: Paths,
    model: Classifier | None = None,
    *,
    tag: TagSettings | None = None,
    dry_run: bool = False,
    settings: RunSettings | None = None,
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
    from catsort.tagging.sidecar import TagSettings

    inputs = _as_paths(paths)
    check_inputs(inputs)
    classifier = model if model is not None else load_model()
    plan = make_plan(inputs, None, dry_run=dry_run, labels=classifier.metadata.labels, tag=True)
    return run_classify(
        inputs,
        classifier,
        plan,
        settings or RunSettings(),
        on_result,
        on_note,
        tag if tag is not None else TagSettings(),
    )


def undo(journal: str | os.PathLike[str]) -> UndoResult:
    """Put back every file a ``sort_photos`` run (or ``catsort classify --move``) moved."""
    return _undo(Path(journal))


def undo_all(dest: str | os.PathLike[str]) -> list[UndoResult]:
    """Put back every sort into ``dest``: each journal in ``dest/.catsort``, newest first.

    Journals already undone are passed over (their result says ``already_undone``).
    """
    return [result for _, result in _undo_all(Path(dest))]


def _as_paths(paths: Paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(path) for path in paths]
