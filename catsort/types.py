"""The data a run shares between its parts: results, settings, the plan, the summary, reporting.

Below the orchestration (catsort.run, catsort.watching, catsort.session) and the clients that
show a run (the command line's displays, the Ray engine): they all import these from here.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from catsort.decision import Prediction
from catsort.errors import SettingsError
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier
from catsort.video import VIDEO_EXTENSIONS

#: The actions of a plan: what happens to a photo with a label folder to go to.
MOVE: Final = "move"
COPY: Final = "copy"

#: Who decided a photo's label when it was not the model: a person, in ``catsort review``.
PERSON: Final = "person"


@dataclass(frozen=True)
class Companion:
    """A file that went with its photo (a sidecar, a RAW, a Live Photo video): from, to."""

    path: Path
    destination: Path


@dataclass(frozen=True)
class PhotoResult:
    """The outcome for one input file: a prediction, or the one-line reason it failed.

    ``skipped`` is the reason catsort deliberately left it unclassified (too small to tell):
    neither a label nor a failure.

    ``destination`` is where classify moved or copied the file (or would, in a dry run);
    ``earlier`` says an earlier run had already put it there, so this run did nothing.
    ``companions`` are the files that went with it (catsort.sorting.companions).
    ``sidecar`` is the XMP sidecar that holds its keyword after ``--tag`` (or would).
    ``kept`` is why a photo that would have been moved stays where it is (it is a link, or
    lies outside the folders given).
    ``cached`` says the result came from the results cache: the photo was not read again.
    ``reason`` is ``error`` without the paths in it (which folder, which sidecar), where it
    names any: what the summary groups errors by.
    ``decided_by`` is ``"person"`` when a person gave the photo its label (``catsort review``,
    remembered in the results cache): the label is theirs, the scores still the model's.
    ``frames`` is, for a video, how many of its frames were looked at (0 when it could not be
    read); None for a photo.
    """

    path: Path
    prediction: Prediction | None = None
    error: str | None = None
    destination: Path | None = None
    earlier: bool = False
    skipped: str | None = None
    companions: tuple[Companion, ...] = ()
    sidecar: Path | None = None
    kept: str | None = None
    cached: bool = False
    reason: str | None = None
    decided_by: str | None = None
    frames: int | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the file was classified."""
        return self.error is None and self.skipped is None

    @property
    def status(self) -> str:
        """``ok`` for a classified photo, ``error`` for one that could not be read, ``skipped``
        for one catsort deliberately left unclassified (too small to tell)."""
        if self.error is not None:
            return "error"
        return "ok" if self.skipped is None else "skipped"

    @property
    def label(self) -> str | None:
        """The label given (a model label, ``uncertain`` or ``other``); None if not classified."""
        return None if self.prediction is None else self.prediction.label

    @property
    def confidence(self) -> float | None:
        """The highest label probability; None after an error or a skip."""
        return None if self.prediction is None else self.prediction.confidence

    @property
    def probabilities(self) -> dict[str, float]:
        """Each model label's probability; empty after an error or a skip."""
        return {} if self.prediction is None else self.prediction.probabilities

    @property
    def pet_score(self) -> float | None:
        """How much the photo looks like a pet (the gate's score); None without a gate."""
        return None if self.prediction is None else self.prediction.pet_score


#: Photos per model call. On this project's 2-core Xeon, whole runs with batches of 4 took 7 %
#: less CPU time than with 8 on the validation photos (two workers' activations of the float
#: stem fit its caches better) and 2 % less on 12 MP photos, with 60 MB less memory; 2 was no
#: cheaper than 4 (docs/performance.md, "Batch size").
BATCH_SIZE = 4


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
    videos: bool = True  # classify videos from a few frames; False leaves them alone

    def check(self, classifier: Classifier | None = None) -> None:
        """Raise SettingsError for settings that cannot work: alone, together, or with the
        model that will run (``classifier``)."""
        for name, value in (("threshold", self.threshold), ("gate_threshold", self.gate_threshold)):
            if value is not None and not 0 <= value <= 1:  # NaN is refused too
                raise SettingsError(
                    "{" + name + ":{value}}: must be a number from 0 to 1", value=value
                )
        for name, count in (("batch_size", self.batch_size), ("workers", self.workers)):
            if count is not None and count < 1:
                raise SettingsError("{" + name + ":{value}}: must be at least 1", value=count)
        if self.gate_threshold is not None and not self.use_gate:
            raise SettingsError("{gate_threshold} and {use_gate:=False} cannot be used together")
        if classifier is not None and self.gate_threshold is not None and not classifier.has_gate:
            raise SettingsError(
                "{model}: this model has no pet gate ({gate_threshold})", model=classifier.path
            )
        if self.videos and importlib.util.find_spec("av") is None:
            raise SettingsError(
                "videos are read with PyAV, which is not installed: pip install av, "
                "or leave videos alone with {videos:=False}"
            )


@dataclass(frozen=True)
class SortPlan:
    """Where classified photos go: ``<dest>/<label>/``, ``other`` to ``other_dest`` if given.

    Below the label folder a photo keeps its folder's path relative to ``base`` (the folder
    given), or relative to the label folder it is in already, unless ``flat``.

    ``theirs`` are the label folders of ``dest`` that no catsort run made (a ``Photos/dog/`` of
    the user's own): walked and classified like any folder, the sorted photos merged into them.
    """

    action: str | None = None  # MOVE, COPY, or None to leave every photo where it is
    dest: Path | None = None
    other_dest: Path | None = None
    dry_run: bool = False
    flat: bool = False
    base: Path | None = None  # the folder relative paths are kept from (None: flat)
    theirs: tuple[Path, ...] = ()

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
        before, into this destination or in the folder given: no ``cat/cat/``), else below
        ``base``; "" where it is neither."""
        bases = [self.dest / label for label in labels] if self.dest is not None else []
        if self.base is not None:
            bases += [self.base / label for label in labels]
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
        to be checked again (``catsort classify Pictures/cat --move``) and the user's own label
        folders (``theirs``), walked like any other."""
        given = {os.path.realpath(p) for p in paths if os.path.isdir(p)}
        given.update(os.path.realpath(folder) for folder in self.theirs)
        return [f for f in self.folders(labels) if os.path.realpath(f) not in given]

    def folders(self, labels: Sequence[str]) -> list[Path]:
        """Every folder this plan fills, so that a walk leaves them out."""
        if self.action is None or self.dest is None:
            return []
        folders = [self.dest / label for label in labels]
        return folders + ([self.other_dest] if self.other_dest is not None else [])


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
    decided: int = 0  # photos whose label a person gave (catsort review), not the model
    videos: int = 0  # of the files looked at, videos (classified from their frames, or failed)
    # The journals of the whole job, newest first: this run's and those of the interrupted runs
    # it finished (catsort.sorting.jobs); undone in this order, they put everything back.
    job_journals: list[Path] = field(default_factory=list)
    # Why the run stopped before the end of its walk: a file it had to write could not be (its
    # journal, the CSV, the disk the photos go to: a full disk), one line naming it. Every photo
    # is whole, in its old place or its new one; the same command again finishes the job.
    stopped: str | None = None
    # Writes that failed without stopping the run (the results cache, the job file), one line
    # each, told as warnings when they happened.
    problems: list[str] = field(default_factory=list)

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
        """0 when every file was classified (and placed) or skipped, 1 when some failed, the
        run stopped part way or something it had to write could not be written."""
        return 1 if self.errors or self.stopped or self.problems else 0

    def rows(self) -> list[tuple[str, int]]:
        """(label, count) for the model's labels, then uncertain and other."""
        return [(label, self.counts[label]) for label in (*self.labels, UNCERTAIN, OTHER)]

    def not_photo_rows(self) -> list[tuple[str, int]]:
        """(extension, files) for the files left alone as not photos, most common first."""
        counted = [(ext, files) for ext, files in self.not_photos.items() if files > 0]
        return sorted(counted, key=lambda item: (-item[1], item[0]))

    def video_rows(self) -> list[tuple[str, int]]:
        """(extension, files) for the videos left alone (a run that does not read videos),
        most common first: those of ``not_photo_rows`` with a video's extension."""
        return [(ext, files) for ext, files in self.not_photo_rows() if ext in VIDEO_EXTENSIONS]

    def add(self, result: PhotoResult) -> None:
        """Count one result."""
        if result.kept is not None:
            self.kept += 1
        if result.cached:
            self.cached += 1
        if result.decided_by is not None:
            self.decided += 1
        if result.frames is not None:
            self.videos += 1
        if result.error is not None:
            self.errors += 1
            self.reasons[result.reason or result.error] += 1
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


@dataclass(frozen=True)
class Row:
    """One photo of the Ray engine, named by its URL: enough for the progress and the summary."""

    path: str
    label: str | None
    status: str
    error: str | None


class Reporter:
    """What a run tells as it goes: each result, notes about the run, problems that do not stop
    it. The command line's displays are reporters; subclass it and override what you want to
    hear (each method does nothing by default, ``warning`` passes its message to ``note``)."""

    def result(self, result: PhotoResult) -> None:
        """One file done: classified and put in place (or why not)."""

    def row(self, row: Row) -> None:
        """One photo done by the Ray engine."""

    def note(self, message: str) -> None:
        """Something about the run (a stale lock taken over, an interrupted run settled)."""

    def warning(self, message: str) -> None:
        """A problem that does not stop the run (a results cache that cannot be used)."""
        self.note(message)

    def ready(self) -> None:
        """A watch is listening, and has walked what was there already."""

    def closed(self, summary: RunSummary) -> None:
        """The run's session closed, however the run ended (Ctrl-C too): what it did, and
        the journal that puts it back."""


@dataclass
class Callbacks(Reporter):
    """A Reporter made of plain functions, for a caller that wants to hear one or two things."""

    on_result: Callable[[PhotoResult], None] | None = None
    on_note: Callable[[str], None] | None = None
    on_warning: Callable[[str], None] | None = None

    def result(self, result: PhotoResult) -> None:
        """Pass the result to ``on_result``."""
        if self.on_result is not None:
            self.on_result(result)

    def note(self, message: str) -> None:
        """Pass the message to ``on_note``."""
        if self.on_note is not None:
            self.on_note(message)

    def warning(self, message: str) -> None:
        """Pass the message to ``on_warning``, else to ``on_note``."""
        (self.on_warning or self.note)(message)
