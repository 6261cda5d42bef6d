"""Watching a folder: sort each new photo once it is whole, for as long as the watch runs.

A photo is taken only once its size and modification time have stayed the same for the settle
time and it decodes; one that does not decode yet waits while it keeps changing. Classifying and
sorting go through the same run functions as ``catsort classify`` (``classify_inputs``,
``Placer``), under one destination lock and into one journal for the whole session.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from catsort.errors import CatsortError
from catsort.images import is_photo_name
from catsort.model import Classifier
from catsort.pipeline import PhotoResult
from catsort.run import (
    Placer,
    RunSettings,
    RunSummary,
    SortPlan,
    check_plan,
    check_settings,
    classify_inputs,
    exclude_check,
    find_inputs,
    new_tagger,
    open_cache,
    tag_placed,
)
from catsort.skiplist import folder_reason
from catsort.sorting.companions import (
    MOTION_EXTENSIONS,
    SIDECAR_EXTENSIONS,
    CompanionFinder,
    companion_targets,
    folder_groups,
)
from catsort.sorting.journal import JOURNAL_DIR, Journal, recover
from catsort.sorting.lock import DestinationLock
from catsort.sorting.place import GroupFailed, Placement, place_group

if TYPE_CHECKING:
    from catsort.tagging.sidecar import TagSettings

#: Endings of the names downloads and sync tools give a file while they write it.
TEMP_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", "~")

#: Companions that may arrive after their photo was sorted (a Live Photo's video, a sidecar).
LATE_EXTENSIONS = MOTION_EXTENSIONS | SIDECAR_EXTENSIONS

# (size, modification time in ns): what must stay the same for the settle time.
_Key = tuple[int, int]


class StopEvent(Protocol):
    """What ends a watch: a ``threading.Event``, or anything with ``is_set``."""

    def is_set(self) -> bool:
        """Tell whether the watch should stop."""
        ...


@dataclass(frozen=True)
class WatchSettings:
    """How to watch: how long a file must stay unchanged, and polling for network shares."""

    settle: float = 2.0  # seconds a file's size and modification time must stay the same
    poll: bool = False  # look for changes every poll_interval (where change events never come)
    poll_interval: float = 1.0

    @property
    def tick_ms(self) -> int:
        """How often the watch looks at the files waiting to settle, in milliseconds."""
        return max(20, min(500, int(self.settle * 250)))


@dataclass
class _Waiting:
    key: _Key
    since: float  # when this size and time were first seen
    failed: bool = False  # it did not decode at this size and time


@dataclass
class Arrivals:
    """The files seen and not yet taken, each with its size, modification time and since when."""

    settle: float
    clock: Callable[[], float] = time.monotonic
    waiting: dict[Path, _Waiting] = field(default_factory=dict)
    taken: dict[Path, _Key] = field(default_factory=dict)  # handled at this size and time

    def see(self, path: Path) -> None:
        """Note a file that appeared or changed; it is taken once it has settled."""
        key = file_key(path)
        if key is None:
            self.waiting.pop(path, None)
        elif self.taken.get(path) != key:
            entry = self.waiting.get(path)
            if entry is None or entry.key != key:
                self.waiting[path] = _Waiting(key, self.clock())

    def forget(self, path: Path) -> None:
        """Drop a file that is gone."""
        self.waiting.pop(path, None)

    def settled(self) -> dict[Path, _Key]:
        """The files unchanged for the settle time, with their size and modification time."""
        now = self.clock()
        ready = {}
        for path, entry in list(self.waiting.items()):
            key = file_key(path)
            if key is None:
                del self.waiting[path]
            elif key != entry.key:
                self.waiting[path] = _Waiting(key, now)  # still being written: start again
            elif now - entry.since >= self.settle:
                ready[path] = key
        return ready

    def unsettled(self, path: Path, key: _Key) -> bool:
        """Tell whether a file changed (or went) since it settled, putting it back to wait."""
        now_key = file_key(path)
        if now_key == key:
            return False
        if now_key is None:
            self.forget(path)
        else:
            self.waiting[path] = _Waiting(now_key, self.clock())
        return True

    def failed(self, path: Path, key: _Key) -> bool:
        """A settled file did not decode: True to wait once more, False when it is an error.

        A writer may pause for longer than the settle time; a file that then stays the same
        for another settle time and still fails is broken.
        """
        entry = self.waiting.get(path)
        if entry is not None and entry.key == key and not entry.failed:
            self.waiting[path] = _Waiting(key, self.clock(), failed=True)
            return True
        return False

    def take(self, path: Path, key: _Key) -> None:
        """Mark a file as handled at this size and time, so that it is not taken again."""
        self.waiting.pop(path, None)
        self.taken[path] = key


def file_key(path: Path) -> _Key | None:
    """A file's size and modification time in ns; None when it is gone or not a file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return (st.st_size, st.st_mtime_ns)


def is_temporary(name: str) -> bool:
    """Tell whether a name is one a tool gives a file while still writing it (or hides)."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


class _Filter:
    """Which changed paths matter: photos and folders, not temporary or hidden names, and
    nothing in the folders the watch fills (cat/, dog/, the --other-dest folder)."""

    def __init__(
        self,
        root: str,
        ignored: Iterable[Path],
        recursive: bool,
        excluded: Callable[[Path], bool] | None = None,
    ) -> None:
        self.root = root
        self.excluded = excluded  # --exclude
        # Only those inside the watched folder: a watched folder inside one (an inbox in
        # cat/) is still watched.
        self.ignored = tuple(
            real
            for real in map(os.path.realpath, ignored)
            if real.startswith(os.path.join(root, ""))
        )
        self.recursive = recursive

    def __call__(self, change: object, path: str) -> bool:
        return self.wanted(path)

    def wanted(self, path: str) -> bool:
        """Tell whether a path under the watched folder is one to look at."""
        if any(path == folder or path.startswith(folder + os.sep) for folder in self.ignored):
            return False
        relative = os.path.relpath(path, self.root)
        parts = relative.split(os.sep)
        if relative == os.curdir or parts[0] == os.pardir:
            return False
        if any(is_temporary(part) for part in parts):
            return False
        folders = parts if os.path.isdir(path) else parts[:-1]
        if any(folder_reason(part) is not None for part in folders):
            return False  # an application's library, a NAS's metadata: never sorted out of
        if not self.recursive and len(parts) > 1:
            return False
        if self.excluded is not None and not os.path.isdir(path) and self.excluded(Path(path)):
            return False
        if os.path.splitext(path)[1].lower() in LATE_EXTENSIONS:
            return True  # perhaps the late companion of a photo already sorted
        return is_photo_name(path) or os.path.isdir(path)


def watch_folder(
    folder: Path,
    classifier: Classifier,
    plan: SortPlan,
    settings: RunSettings | None = None,
    watching: WatchSettings = WatchSettings(),
    stop: StopEvent | None = None,
    on_result: Callable[[PhotoResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    on_ready: Callable[[], None] | None = None,
    tagging: TagSettings | None = None,
) -> RunSummary:
    """Sort what is in ``folder``, then each photo that arrives, until ``stop`` is set.

    Starts with the same walk as classify, for what arrived while no watch ran; then sorts each
    new photo once it has settled (``watching.settle`` seconds unchanged) and decodes.
    ``on_ready`` is called once the watch is listening and the folder has been walked. With
    ``tagging``, each cat or dog photo's keyword goes into its XMP sidecar, where it ends up.
    """
    folder = Path(folder)
    if not os.path.isdir(folder):
        if not os.path.lexists(folder):
            raise CatsortError(f"{folder}: no such folder")
        raise CatsortError(f"{folder}: not a folder (watch takes a folder to watch)")
    if plan.dry_run:
        raise CatsortError("watch has no dry run; try catsort classify --dry-run")
    settings = settings if settings is not None else RunSettings()
    labels = classifier.metadata.labels
    check_plan(plan, [folder], labels)
    check_settings(classifier, settings)
    stop = stop if stop is not None else threading.Event()
    summary = RunSummary(labels=labels)
    started = time.perf_counter()
    with ExitStack() as stack:
        journal = None
        if plan.action is not None or tagging is not None:
            # A watch that only tags keeps its journal in the watched folder, as classify does.
            root = plan.dest if plan.dest is not None else folder
            # Held for the whole session: a classify run into the same folder would race it.
            stack.enter_context(DestinationLock.acquire(root / JOURNAL_DIR, on_note))
            for message in recover(root):
                if on_note is not None:
                    on_note(message)
            journal = stack.enter_context(Journal.create(root))
        # The same results cache as classify: a photo it knows unchanged is not read again.
        cache = open_cache([folder], classifier, plan, settings, on_note)
        if cache is not None:
            stack.callback(cache.close)
        # Every move of the session, in its one journal.
        placer = Placer(plan, labels, journal, given=(folder,), cache=cache)
        session = _Session(folder, classifier, placer, settings, watching, stop, summary, tagging)
        try:
            session.run(on_result, on_ready, on_note)
        finally:
            if journal is not None and journal.completed:
                summary.journal = journal.path
            summary.elapsed = time.perf_counter() - started
    return summary


class _Session:
    """One watch: the arrivals waiting to settle and what has been sorted."""

    def __init__(
        self,
        folder: Path,
        classifier: Classifier,
        placer: Placer,
        settings: RunSettings,
        watching: WatchSettings,
        stop: StopEvent,
        summary: RunSummary,
        tagging: TagSettings | None = None,
    ) -> None:
        self.folder = folder
        self.root = os.path.realpath(folder)
        self.classifier = classifier
        self.placer = placer
        self.plan = placer.plan
        self.settings = settings
        self.watching = watching
        self.stop = stop
        self.summary = summary
        self.tagging = tagging
        self.on_result: Callable[[PhotoResult], None] | None = None
        self.labels = classifier.metadata.labels
        self.arrivals = Arrivals(watching.settle)
        self.excluded = exclude_check([Path(self.root)], settings.exclude)
        self.filter = _Filter(
            self.root, self.plan.folders(self.labels), settings.recursive, self.excluded
        )
        # folder -> {photo name: where it went}: for the companions that arrive after it
        self.went: dict[Path, dict[str, Path]] = {}
        self.on_note: Callable[[str], None] | None = None

    def run(
        self,
        on_result: Callable[[PhotoResult], None] | None,
        on_ready: Callable[[], None] | None,
        on_note: Callable[[str], None] | None,
    ) -> None:
        import watchfiles

        self.on_result = on_result
        self.on_note = on_note

        tick = self.watching.tick_ms
        changes = watchfiles.watch(
            self.root,
            watch_filter=self.filter,
            debounce=max(tick, 50),
            step=min(50, tick),
            stop_event=self.stop,
            rust_timeout=tick,
            yield_on_timeout=True,
            force_polling=self.watching.poll,
            poll_delay_ms=max(1, int(self.watching.poll_interval * 1000)),
            recursive=self.settings.recursive,
            ignore_permission_denied=True,  # an unreadable subfolder: the walk reports it
        )
        with closing(changes):
            first = True
            while (batch := self.next_changes(changes)) is not None:
                if first:  # listening now: walk for what arrived while no watch ran
                    first = False
                    self.scan(self.folder)
                    if on_ready is not None:
                        on_ready()
                for change, path in sorted(batch, key=lambda item: item[1]):
                    self.changed(change, Path(path))
                if self.stop.is_set():
                    break
                if not os.path.isdir(self.root):
                    if on_note is not None:
                        on_note(f"{self.folder}: the watched folder is gone; stopping")
                    break
                self.sort(self.arrivals.settled())

    def next_changes(self, changes: Iterator[set]) -> set | None:
        """The next changes (empty after a quiet tick), or None once stopped."""
        try:
            return next(changes)
        except StopIteration:
            return None
        except (OSError, RuntimeError) as exc:  # no events here (e.g. the inotify watch limit)
            raise CatsortError(
                f"{self.folder}: cannot watch for changes ({exc}); try --poll"
            ) from None

    def scan(self, folder: Path) -> None:
        """Note every photo under ``folder``, walked as classify walks it."""
        for path in find_inputs(
            [folder],
            self.plan,
            self.labels,
            self.settings.recursive,
            self.walk_error,
            exclude=self.settings.exclude,
        ):
            if self.filter.wanted(os.path.join(self.root, os.path.relpath(path, self.folder))):
                self.arrivals.see(path)

    def walk_error(self, path: Path, reason: str) -> None:
        self.report(PhotoResult(path, error=reason))

    def changed(self, change: object, path: Path) -> None:
        import watchfiles

        path = self._shown(path)
        if change == watchfiles.Change.deleted:
            self.arrivals.forget(path)
        elif os.path.isdir(path):
            # A folder moved in whole brings no events for its files.
            if change == watchfiles.Change.added and self.settings.recursive:
                self.scan(path)
        else:
            self.arrivals.see(path)

    def sort(self, ready: dict[Path, _Key]) -> None:
        """Classify and sort the settled files; those that changed meanwhile wait again."""
        if not ready:
            return
        # Listed afresh for each batch: companions (a Live Photo's video) arrive over time too.
        finder = self.placer.finder = CompanionFinder(ignore=self.excluded)
        ready = dict(ready)
        for path in [p for p in ready if p.suffix.lower() in LATE_EXTENSIONS]:
            self.follow(path, ready.pop(path))
        for path in [p for p in ready if finder.is_paired_raw(p)]:
            self.arrivals.take(path, ready.pop(path))  # it goes with its JPEG, not on its own
        if not ready:
            return
        # A tagger per batch: its date is the day the photo came, its folder listings fresh.
        tagger = None if self.tagging is None else new_tagger(self.tagging, self.classifier)
        results = cast(
            Generator[PhotoResult, None, None],  # closed when stopped part way: ends the workers
            classify_inputs(
                sorted(ready),
                self.classifier,
                self.settings,
                self.plan.folders(self.labels),
                finder,
                None,
                self.placer.cache,
            ),
        )
        with closing(results):
            for result in results:
                key = ready.get(result.path)
                if key is None:  # not one of ours (the walk does not invent paths, but still)
                    self.report(result)
                    continue
                if self.arrivals.unsettled(result.path, key):
                    continue  # written to since it settled: not whole yet
                if result.error is not None and self.arrivals.failed(result.path, key):
                    continue  # does not decode yet: perhaps a writer's pause
                self.arrivals.take(result.path, key)
                placed = self.placer.place(result)
                if tagger is not None:
                    placed = tag_placed(
                        placed, self.plan, self.labels, tagger, self.placer.journal, (self.folder,)
                    )
                if placed.destination is not None and placed.destination != placed.path:
                    self.went.setdefault(placed.path.parent, {})[placed.path.name] = (
                        placed.destination
                    )
                self.report(placed)
                if self.stop.is_set():
                    return  # the rest wait for the next watch's first walk

    def follow(self, path: Path, key: _Key) -> None:
        """Send a companion that arrived after its photo was sorted to where the photo went;
        one whose photo is still to be sorted waits for it (and goes with it)."""
        folder = path.parent
        went = self.went.get(folder, {})
        try:
            here = [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
        except OSError:
            here = []
        groups = folder_groups([*went, *here])
        photo = next((name for name, members in groups.items() if path.name in members), None)
        if photo is None or photo not in went:
            waiting = photo is not None and folder / photo in self.arrivals.waiting
            if not waiting:
                self.arrivals.take(path, key)  # nobody's, or its photo stayed: left alone
            return
        self.arrivals.take(path, key)
        action = self.plan.action
        if action is None:
            return
        target = companion_targets(folder / photo, [path], went[photo])[0]
        try:
            if os.path.lexists(target):
                raise CatsortError(f"{target}: already exists")
            place_group([Placement(path, target, action)], self.placer.journal, inside=[folder])
        except (GroupFailed, CatsortError) as exc:
            self._note(f"{path}: not sent after {photo} ({exc}); left in place")
            return
        self.summary.companions += 1
        self._note(f"{path.name} -> {target} (after {photo})")

    def _note(self, message: str) -> None:
        if self.on_note is not None:
            self.on_note(message)

    def report(self, result: PhotoResult) -> None:
        self.summary.add(result)
        if self.on_result is not None:
            self.on_result(result)

    def _shown(self, path: Path) -> Path:
        """An event's path (under the resolved folder) as under the folder given."""
        try:
            return self.folder / path.relative_to(self.root)
        except ValueError:
            return path
