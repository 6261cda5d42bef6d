"""Watching a folder: sort each new photo once it is whole, for as long as the watch runs.

A photo is taken only once its size and modification time have stayed the same for the settle
time and it decodes; one that does not decode yet waits while it keeps changing. Classifying goes
through the same functions as ``catsort classify`` (``classify_inputs``), and sorting through
one sort session (catsort.session) for the whole watch: one destination lock, one journal.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from catsort.errors import CatsortError, SettingsError
from catsort.images import is_photo_name
from catsort.model import Classifier
from catsort.plan import check_plan, make_plan
from catsort.run import classify_inputs, find_inputs
from catsort.session import SortSession
from catsort.skiplist import JOURNAL_DIR, folder_reason
from catsort.sorting.companions import MOTION_EXTENSIONS, SIDECAR_EXTENSIONS, folder_groups
from catsort.tagging.sidecar import TagSettings
from catsort.types import PhotoResult, Reporter, RunSettings, RunSummary, SortPlan
from catsort.video import is_video_name

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

    def __post_init__(self) -> None:
        # As the command line's options refuse them: NaN too (every comparison fails).
        if not self.settle >= 0:
            raise SettingsError("{settle:{value}}: must be 0 seconds or more", value=self.settle)
        if not self.poll_interval >= 0.01:
            raise SettingsError(
                "{poll_interval:{value}}: must be 0.01 seconds or more", value=self.poll_interval
            )

    @property
    def live_photo_wait(self) -> float:
        """Seconds a lone ``.MOV`` or ``.MP4`` waits, once settled, for the photo it may be the
        Live Photo video of, before it is sorted as a video of its own."""
        return 10 * self.settle

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

    def waited(self, path: Path) -> float:
        """Seconds a waiting file has had its present size and time (0 if it is not waiting)."""
        entry = self.waiting.get(path)
        return 0.0 if entry is None else self.clock() - entry.since

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
    nothing in the folders the watch fills (cat/, dog/, the --other-dest folder) or another
    run's destination fills (a folder holding a .catsort)."""

    def __init__(
        self,
        root: str,
        ignored: Iterable[Path],
        recursive: bool,
        excluded: Callable[[Path], bool] | None = None,
        videos: bool = False,
    ) -> None:
        self.root = root
        self.excluded = excluded  # --exclude
        self.videos = videos
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
        if any(
            os.path.isdir(os.path.join(self.root, *folders[: n + 1], JOURNAL_DIR))
            for n in range(len(folders))
        ):
            return False  # another run's destination: its photos are sorted already
        if not self.recursive and len(parts) > 1:
            return False
        if self.excluded is not None and not os.path.isdir(path) and self.excluded(Path(path)):
            return False
        if os.path.splitext(path)[1].lower() in LATE_EXTENSIONS:
            return True  # perhaps the late companion of a photo already sorted
        if self.videos and is_video_name(path):
            return True
        return is_photo_name(path) or os.path.isdir(path)


@dataclass(frozen=True)
class Watch:
    """A watch of ``folder``: the model, where photos go, how to decide, tags, how to watch."""

    folder: Path
    classifier: Classifier
    plan: SortPlan
    settings: RunSettings = field(default_factory=RunSettings)
    watching: WatchSettings = field(default_factory=WatchSettings)
    tagging: TagSettings | None = None

    def start(self, stop: StopEvent | None = None, reporter: Reporter | None = None) -> RunSummary:
        """Sort what is in the folder, then each photo that arrives, until ``stop`` is set.

        Starts with the same walk as classify, for what arrived while no watch ran; then sorts
        each new photo once it has settled (``watching.settle`` seconds unchanged) and decodes.
        ``reporter`` hears of each photo, and ``ready`` once the watch is listening and the
        folder has been walked. With ``tagging``, each cat or dog photo's keyword goes into its
        XMP sidecar, where it ends up.
        """
        folder = Path(self.folder)
        _check_folder(folder)
        if self.plan.dry_run:
            raise SettingsError("a watch has no dry run ({dry_run:=True}); classify one instead")
        # The whole watch is one session: one lock and one journal for every photo it sorts.
        session = SortSession(
            self.classifier,
            self.plan,
            self.settings,
            given=(folder,),
            tagging=self.tagging,
            reporter=reporter,
            resumable=False,
        )
        with session:
            watcher = _Watcher(folder, session, self.watching, stop or threading.Event())
            watcher.run()
        return session.summary


def prepare_watch(
    folder: Path,
    classifier: Classifier,
    *,
    action: str | None = None,
    dest: Path | None = None,
    other_dest: Path | None = None,
    tagging: TagSettings | None = None,
    settings: RunSettings | None = None,
    watching: WatchSettings | None = None,
) -> Watch:
    """Check a watch's settings together and plan it; raise CatsortError for what cannot work."""
    folder = Path(folder)
    _check_folder(folder)
    settings = settings if settings is not None else RunSettings()
    plan = make_plan([folder], action, dest, other_dest)
    check_plan(plan, [folder], classifier.metadata.labels)
    settings.check(classifier)
    return Watch(folder, classifier, plan, settings, watching or WatchSettings(), tagging)


def _check_folder(folder: Path) -> None:
    if not os.path.isdir(folder):
        if not os.path.lexists(folder):
            raise CatsortError(f"{folder}: no such folder")
        raise CatsortError(f"{folder}: not a folder (watch takes a folder to watch)")


class _Watcher:
    """One watch going on: the arrivals waiting to settle, and where each photo went."""

    def __init__(
        self, folder: Path, session: SortSession, watching: WatchSettings, stop: StopEvent
    ) -> None:
        self.folder = folder
        self.root = os.path.realpath(folder)
        self.session = session
        self.classifier = session.classifier
        self.plan = session.plan
        self.settings = session.settings
        self.labels = session.labels
        self.reporter = session.reporter
        self.watching = watching
        self.stop = stop
        self.arrivals = Arrivals(watching.settle)
        self.filter = _Filter(
            self.root,
            self.plan.folders(self.labels),
            self.settings.recursive,
            session.excluded,
            self.settings.videos,
        )
        # folder -> {photo name: where it went}: for the companions that arrive after it
        self.went: dict[Path, dict[str, Path]] = {}

    def run(self) -> None:
        """Watch until stopped: each batch of changes noted, each settled photo sorted."""
        import watchfiles

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
                    self.reporter.ready()
                for change, path in sorted(batch, key=lambda item: item[1]):
                    self.changed(change, Path(path))
                if self.stop.is_set() or self.session.stopped:  # stopped: a write failed
                    break
                if not os.path.isdir(self.root):
                    self.reporter.note(f"{self.folder}: the watched folder is gone; stopping")
                    break
                self.sort(self.arrivals.settled())

    def next_changes(self, changes: Iterator[set]) -> set | None:
        """The next changes (empty after a quiet tick), or None once stopped."""
        try:
            return next(changes)
        except StopIteration:
            return None
        except (OSError, RuntimeError) as exc:  # no events here (e.g. the inotify watch limit)
            raise SettingsError(
                "{folder}: cannot watch for changes ({reason}); try {poll:=True}",
                folder=self.folder,
                reason=exc,
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
            videos=self.settings.videos,
        ):
            if self.filter.wanted(os.path.join(self.root, os.path.relpath(path, self.folder))):
                self.arrivals.see(path)

    def walk_error(self, path: Path, reason: str) -> None:
        self.session.handle(PhotoResult(path, error=reason))

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
        # Fresh companion listings (a Live Photo's video arrives over time too) and tag date.
        session = self.session
        session.renew()
        ready = dict(ready)
        for path in [p for p in ready if p.suffix.lower() in LATE_EXTENSIONS]:
            if self.follow(path, ready[path]):
                del ready[path]  # a companion: it went, or waits, or stays
        for path in [p for p in ready if session.finder.is_paired_raw(p)]:
            self.arrivals.take(path, ready.pop(path))  # it goes with its JPEG, not on its own
        if not ready:
            return
        results = cast(
            Generator[PhotoResult, None, None],  # closed when stopped part way: ends the workers
            classify_inputs(
                sorted(ready),
                self.classifier,
                self.settings,
                self.plan.folders(self.labels),
                session.finder,
                None,
                session.cache,
            ),
        )
        with closing(results):
            for result in results:
                key = ready.get(result.path)
                if key is None:  # not one of ours (the walk does not invent paths, but still)
                    session.handle(result)
                    continue
                if self.arrivals.unsettled(result.path, key):
                    continue  # written to since it settled: not whole yet
                if result.error is not None and self.arrivals.failed(result.path, key):
                    continue  # does not decode yet: perhaps a writer's pause
                self.arrivals.take(result.path, key)
                done = session.handle(result)
                if done.destination is not None and done.destination != done.path:
                    self.went.setdefault(done.path.parent, {})[done.path.name] = done.destination
                if self.stop.is_set() or session.stopped:
                    return  # the rest wait for the next watch's first walk

    def follow(self, path: Path, key: _Key) -> bool:
        """Send a companion that arrived after its photo was sorted to where the photo went;
        one whose photo is still to be sorted waits for it (and goes with it). False for a
        video of its own, to be sorted as a photo is; a lone ``.MOV`` waits a while first, in
        case it is a Live Photo's video that arrived before its photo."""
        folder = path.parent
        went = self.went.get(folder, {})
        try:
            here = [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
        except OSError:
            here = []
        groups = folder_groups([*went, *here], self.settings.videos)
        if path.name in groups:  # a video of its own, unless its photo is on its way
            return self.arrivals.waited(path) < self.watching.live_photo_wait
        photo = next((name for name, members in groups.items() if path.name in members), None)
        if photo is None or photo not in went:
            waiting = photo is not None and folder / photo in self.arrivals.waiting
            if not waiting:
                self.arrivals.take(path, key)  # nobody's, or its photo stayed: left alone
            return True
        self.arrivals.take(path, key)
        self.session.follow(path, folder / photo, went[photo])
        return True

    def _shown(self, path: Path) -> Path:
        """An event's path (under the resolved folder) as under the folder given."""
        try:
            return self.folder / path.relative_to(self.root)
        except ValueError:
            return path
