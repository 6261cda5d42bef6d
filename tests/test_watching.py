"""catsort watch: photos sorted as they arrive, only once whole, and a session undo puts back."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import BLUE, RED
from PIL import Image
from typer.testing import CliRunner

from catsort.cache import ResultsCache, cache_location
from catsort.cli import app
from catsort.model import load_model
from catsort.plan import make_plan
from catsort.run import run_classify
from catsort.sorting.journal import undo
from catsort.sorting.lock import DestinationBusy
from catsort.sorting.place import COPY, MOVE
from catsort.tagging import xmp
from catsort.tagging.sidecar import TagSettings
from catsort.types import Reporter, RunSettings, SortPlan
from catsort.watching import Watch, WatchSettings

runner = CliRunner()
SETTLE = 0.3
SLOW_SETTLE = 0.5  # for the slow writers: a writer held up by a busy machine is not done
PAUSE = 0.05  # between a slow writer's pieces
DEADLINE = 30.0  # seconds: generous, for a machine busy with other work


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return load_model(tiny_model, threads=1)


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Wait until ``condition()`` is true, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Heard(Reporter):
    """What a watch tells the test: its results, notes and when it is ready."""

    def __init__(self, watching: Watching) -> None:
        self.watching = watching

    def result(self, result) -> None:
        self.watching.results.append(result)

    def note(self, message: str) -> None:
        self.watching.notes.append(message)

    def ready(self) -> None:
        self.watching.ready.set()


class Watching:
    """A watch (``Watch.start``) running in a thread for the length of a ``with`` block."""

    def __init__(
        self,
        folder: Path,
        classifier,
        plan: SortPlan,
        recursive: bool = True,
        exclude: tuple[str, ...] = (),
        tagging: TagSettings | None = None,
        **watching,
    ) -> None:
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.results: list = []
        self.notes: list[str] = []
        self.summary = None
        self.error: BaseException | None = None
        settings = WatchSettings(**{"settle": SETTLE, **watching})

        def run() -> None:
            try:
                watch = Watch(
                    folder,
                    classifier,
                    plan,
                    RunSettings(recursive=recursive, workers=1, exclude=exclude),
                    settings,
                    tagging,
                )
                self.summary = watch.start(self.stop, Heard(self))
            except BaseException as exc:
                self.error = exc
                self.ready.set()

        self.thread = threading.Thread(target=run, daemon=True)

    def __enter__(self) -> Watching:
        self.thread.start()
        wait_for(self.ready.is_set, "the watch to start")
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "the watch did not stop"
        if self.error is not None and exc_info[0] is None:
            raise self.error

    def names(self) -> list[str]:
        return [result.path.name for result in self.results]


def noisy_png(color: tuple[int, int, int], size=(160, 120)) -> bytes:
    """A PNG of a colour with noise, big enough (tens of KB) to write in several pieces."""
    rng = np.random.default_rng(0)
    pixels = np.clip(np.array(color) + rng.integers(-15, 15, (size[1], size[0], 3)), 0, 255)
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_the_first_walk_sorts_what_was_already_there(photos, classifier):
    with Watching(photos, classifier, SortPlan(MOVE, photos)) as watching:
        wait_for(lambda: len(watching.results) == 4, "the four photos")
    assert (photos / "cat" / "kitty.jpg").is_file()
    assert (photos / "dog" / "rex.png").is_file()
    assert (photos / "blur.png").is_file() and (photos / "tree.png").is_file()  # left in place
    summary = watching.summary
    assert summary.placed == 2 and summary.errors == 0 and summary.files == 4


def test_a_persons_label_wins_in_a_watch_too(photos, classifier):
    # catsort review of a CSV-only run over the folder said the red photo shows a dog.
    with ResultsCache.open(cache_location(photos), photos, "any") as cache:  # type: ignore[union-attr]
        cache.decide(photos / "kitty.jpg", "dog")
    with Watching(photos, classifier, SortPlan(MOVE, photos)) as watching:
        wait_for(lambda: len(watching.results) == 4, "the four photos")
    assert (photos / "dog" / "kitty.jpg").is_file(), "sorted by the person's label"
    assert watching.summary.decided == 1


def test_a_photo_written_slowly_is_sorted_once_whole_and_never_before(tmp_path, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = noisy_png(BLUE)
    pieces = [data[i : i + len(data) // 5 + 1] for i in range(0, len(data), len(data) // 5 + 1)]
    assert len(pieces) >= 5
    photo, sorted_photo = inbox / "IMG_0001.png", inbox / "dog" / "IMG_0001.png"
    with Watching(inbox, classifier, SortPlan(MOVE, inbox), settle=SLOW_SETTLE) as watching:
        with open(photo, "wb") as out:
            for piece in pieces:
                # Before each piece: the photo is still in the inbox, not sorted, not reported.
                assert not sorted_photo.exists() and watching.results == []
                out.write(piece)
                out.flush()
                time.sleep(PAUSE)
        wait_for(sorted_photo.exists, "the photo to be sorted")
    assert sorted_photo.read_bytes() == data  # moved whole
    assert not photo.exists()
    assert [(r.path.name, r.status, r.destination) for r in watching.results] == [
        ("IMG_0001.png", "ok", sorted_photo)
    ]
    journal = watching.summary.journal.read_text()
    assert journal.count('"begin"') == 1  # one move, begun only once the photo was whole


def test_a_photo_that_decodes_before_it_is_whole_waits_until_it_settles(tmp_path, classifier):
    # Cameras write the main image first and preview data after it: the first part of the
    # file already decodes, so only its size and time staying the same tell it is finished.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    image = noisy_png(RED)
    trailer = os.urandom(40_000)
    photo, sorted_photo = inbox / "DSC_0001.png", inbox / "cat" / "DSC_0001.png"
    with Watching(inbox, classifier, SortPlan(MOVE, inbox), settle=SLOW_SETTLE) as watching:
        with open(photo, "wb") as out:
            out.write(image)
            for i in range(0, len(trailer), 5_000):
                out.flush()
                time.sleep(PAUSE)
                assert not sorted_photo.exists() and watching.results == []
                out.write(trailer[i : i + 5_000])
        wait_for(sorted_photo.exists, "the photo to be sorted")
    assert sorted_photo.read_bytes() == image + trailer


def test_a_photo_that_does_not_decode_is_one_error_and_is_retried_once_it_changes(
    tmp_path, classifier
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = noisy_png(RED)
    photo = inbox / "half.png"
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        photo.write_bytes(data[: len(data) // 2])  # a copy that stalled half way
        wait_for(lambda: watching.results, "the stalled photo to be given up on")
        assert [(r.path, r.status) for r in watching.results] == [(photo, "error")]
        assert photo.read_bytes() == data[: len(data) // 2]  # never moved
        with open(photo, "ab") as out:  # the copy goes on: the watch takes it again
            out.write(data[len(data) // 2 :])
        wait_for(lambda: len(watching.results) == 2, "the finished photo")
    assert (inbox / "cat" / "half.png").read_bytes() == data
    assert [r.status for r in watching.results] == ["error", "ok"]


def test_label_folders_hidden_and_temporary_files_are_left_alone(tmp_path, classifier, make_photo):
    inbox = tmp_path / "inbox"
    make_photo(inbox / "cat" / "sorted-by-hand.png", BLUE)  # a dog photo kept in cat/ on purpose
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        make_photo(inbox / "dog" / "also-by-hand.png", RED)
        make_photo(inbox / "download.jpg.part", RED, format="JPEG")
        make_photo(inbox / ".sync-tmp.jpg", RED)
        make_photo(inbox / ".thumbnails" / "t.jpg", RED)
        make_photo(inbox / "last.png", RED)
        wait_for(lambda: watching.results, "the new photo")
        time.sleep(2 * SETTLE)  # what settled with it would be sorted by now
    assert watching.names() == ["last.png"]
    assert (inbox / "cat" / "sorted-by-hand.png").is_file()
    assert (inbox / "dog" / "also-by-hand.png").is_file()
    assert (inbox / "download.jpg.part").is_file() and (inbox / ".sync-tmp.jpg").is_file()
    assert (inbox / ".thumbnails" / "t.jpg").is_file()


def test_what_exclude_matches_is_left_alone_at_the_start_and_as_it_arrives(
    tmp_path, classifier, make_photo
):
    inbox = tmp_path / "inbox"
    make_photo(inbox / "Exports" / "old.png", RED)  # there before the watch: its first walk
    exclude = ("Exports/", "*.aae")
    with Watching(inbox, classifier, SortPlan(MOVE, inbox), exclude=exclude) as watching:
        make_photo(inbox / "Exports" / "new.png", RED)
        (inbox / "IMG.aae").write_bytes(b"edits")  # would travel with IMG.png but is excluded
        make_photo(inbox / "IMG.png", RED)
        wait_for(lambda: watching.results, "the new photo")
        time.sleep(2 * SETTLE)  # what settled with it would be sorted by now
    assert watching.names() == ["IMG.png"]
    assert (inbox / "cat" / "IMG.png").is_file() and (inbox / "IMG.aae").is_file()
    assert (inbox / "Exports" / "old.png").is_file() and (inbox / "Exports" / "new.png").is_file()


def test_a_folder_moved_in_whole_is_sorted(tmp_path, classifier, make_photo):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make_photo(tmp_path / "card" / "DCIM" / "a.png", RED)
    make_photo(tmp_path / "card" / "DCIM" / "b.png", BLUE)
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        os.rename(tmp_path / "card" / "DCIM", inbox / "DCIM")  # one event, for the folder only
        wait_for(lambda: len(watching.results) == 2, "the photos in the folder")
    assert (inbox / "cat" / "a.png").is_file() and (inbox / "dog" / "b.png").is_file()


def test_without_recursion_subfolders_are_left_alone(tmp_path, classifier, make_photo):
    inbox = tmp_path / "inbox"
    make_photo(inbox / "old" / "a.png", RED)
    with Watching(inbox, classifier, SortPlan(MOVE, inbox), recursive=False) as watching:
        make_photo(tmp_path / "trip" / "b.png", RED)
        os.rename(tmp_path / "trip", inbox / "trip")
        make_photo(inbox / "top.png", BLUE)
        wait_for(lambda: watching.results, "the photo at the top")
        time.sleep(2 * SETTLE)
    assert watching.names() == ["top.png"]
    assert (inbox / "old" / "a.png").is_file() and (inbox / "trip" / "b.png").is_file()


def test_polling_finds_new_photos(tmp_path, classifier, make_photo):
    inbox = tmp_path / "share"
    inbox.mkdir()
    with Watching(inbox, classifier, SortPlan(COPY, inbox), poll=True, poll_interval=0.1) as w:
        make_photo(inbox / "a.png", BLUE)
        wait_for(lambda: w.results, "the photo")
    assert (inbox / "dog" / "a.png").read_bytes() == (inbox / "a.png").read_bytes()
    assert w.names() == ["a.png"]


def test_a_stopped_watch_leaves_a_journal_that_undo_puts_back(
    photos, classifier, make_photo, read_tree
):
    with Watching(photos, classifier, SortPlan(MOVE, photos)) as watching:
        wait_for(lambda: len(watching.results) == 4, "the first walk")
        make_photo(photos / "new" / "kitten.png", RED)
        wait_for(lambda: len(watching.results) == 5, "the new photo")
        before = read_tree(photos)
    assert "cat/kitten.png" in before
    journal = watching.summary.journal
    assert journal is not None and watching.summary.placed == 3
    result = undo(journal)
    assert len(result.restored) == 3 and not result.skipped
    after = read_tree(photos)
    assert sorted(after) == ["blur.png", "kitty.jpg", "new/kitten.png", "tree.png", "trip/rex.png"]
    assert after["new/kitten.png"] == before["cat/kitten.png"]  # byte for byte
    assert after["kitty.jpg"] == before["cat/kitty.jpg"]


def test_a_watch_holds_the_destination_for_the_whole_session(photos, classifier):
    with Watching(photos, classifier, SortPlan(MOVE, photos)):
        with pytest.raises(DestinationBusy, match="another catsort run"):
            run_classify([photos], classifier, SortPlan(MOVE, photos))


def _keywords(sidecar: Path) -> list[str]:
    return xmp.keywords(xmp.parse(sidecar.read_bytes()))


def test_a_watch_with_tag_writes_each_keyword_where_the_photo_went_and_undo_removes_it(
    photos, classifier, make_photo, read_tree
):
    before = read_tree(photos)
    plan = make_plan([photos], MOVE)  # as the command line makes it: folders kept
    with Watching(photos, classifier, plan, tagging=TagSettings()) as w:
        wait_for(lambda: len(w.results) == 4, "the first walk")
        make_photo(photos / "new" / "kitten.png", RED)
        wait_for(lambda: len(w.results) == 5, "the new photo")
    assert _keywords(photos / "cat" / "kitty.xmp") == ["cat"]
    assert _keywords(photos / "cat" / "new" / "kitten.xmp") == ["cat"]
    assert _keywords(photos / "dog" / "trip" / "rex.xmp") == ["dog"]
    assert not list(photos.rglob("blur.xmp")) and not list(photos.rglob("tree.xmp"))
    assert w.summary.tagged == 3
    kitten = (photos / "cat" / "new" / "kitten.png").read_bytes()
    undo(w.summary.journal)
    assert read_tree(photos) == {**before, "new/kitten.png": kitten}  # no sidecar left behind


def test_a_sidecar_arriving_after_catsort_wrote_one_is_left_where_it_came(
    tmp_path, classifier, make_photo
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with Watching(inbox, classifier, make_plan([inbox], MOVE), tagging=TagSettings()) as w:
        make_photo(inbox / "IMG_1.jpg", RED)
        wait_for(lambda: (inbox / "cat" / "IMG_1.xmp").exists(), "the photo's keyword")
        (inbox / "IMG_1.xmp").write_bytes(b"<x:xmpmeta/> from the phone")
        wait_for(lambda: any("IMG_1.xmp" in note for note in w.notes), "a note on the sidecar")
    assert (inbox / "IMG_1.xmp").read_bytes() == b"<x:xmpmeta/> from the phone"
    assert _keywords(inbox / "cat" / "IMG_1.xmp") == ["cat"]  # neither overwrites the other
    assert any("already exists" in note and "left in place" in note for note in w.notes)


def test_a_watch_that_only_tags_leaves_the_photos_where_they_are(photos, classifier, make_photo):
    with Watching(photos, classifier, SortPlan(), tagging=TagSettings(naming="ext.xmp")) as w:
        wait_for(lambda: len(w.results) == 4, "the first walk")
        make_photo(photos / "later.png", BLUE)
        wait_for(lambda: len(w.results) == 5, "the new photo")
    assert _keywords(photos / "kitty.jpg.xmp") == ["cat"]
    assert _keywords(photos / "later.png.xmp") == ["dog"]
    assert (photos / "kitty.jpg").is_file() and not (photos / "cat").exists()
    assert w.names().count("later.png") == 1  # its new sidecar is not taken for a photo
    assert w.summary.journal is not None and w.summary.journal.parent == photos / ".catsort"


# --- the command line ---------------------------------------------------------------------------


def test_watch_refuses_what_it_cannot_do(tmp_path, tiny_model):
    missing = runner.invoke(app, ["watch", str(tmp_path / "nope"), "--model", str(tiny_model)])
    assert missing.exit_code == 2 and "no such folder" in missing.stderr
    both = runner.invoke(app, ["watch", str(tmp_path), "--move", "--copy"])
    assert both.exit_code == 2 and "cannot be used together" in both.stderr
    prefix = runner.invoke(app, ["watch", str(tmp_path), "--tag-prefix", "Pets"])
    assert prefix.exit_code == 2 and "--tag-prefix needs --tag" in prefix.stderr


def _start_watch(folder: Path, model: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "catsort", "watch", str(folder), "--model", str(model)]
    return subprocess.Popen(  # Ctrl-C's default action, even where this shell ignores it
        [*command, "--settle", str(SETTLE), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_ends_the_watch_with_a_summary_and_an_undo(
    photos, tiny_model, make_photo, read_tree
):
    before = read_tree(photos)
    process = _start_watch(photos, tiny_model, "--move")
    try:
        wait_for(lambda: (photos / "cat" / "kitty.jpg").exists(), "the first walk", 60)
        make_photo(photos / "later.png", BLUE)
        wait_for(lambda: (photos / "dog" / "later.png").exists(), "the new photo")
        new_photo = (photos / "dog" / "later.png").read_bytes()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "catsort watch" in stderr and re.search(r"moved\W+3\b", stderr)
    journal = re.search(r"To put everything back: catsort undo (\S+)", stderr).group(1)
    undone = runner.invoke(app, ["undo", journal])
    assert undone.exit_code == 0, undone.output
    assert read_tree(photos) == {**before, "later.png": new_photo}


def test_sigterm_ends_a_polling_watch_normally(tmp_path, tiny_model, make_photo):
    inbox = tmp_path / "share"
    make_photo(inbox / "a.png", RED)
    rows = tmp_path / "rows.csv"
    process = _start_watch(
        inbox, tiny_model, "--copy", "--poll", "--poll-interval", "0.1", "-q", "--csv", str(rows)
    )
    try:
        wait_for(lambda: (inbox / "cat" / "a.png").exists(), "the first walk", 60)
        make_photo(inbox / "b.png", BLUE)
        wait_for(lambda: (inbox / "dog" / "b.png").exists(), "the new photo")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stderr == ""  # --quiet: nothing went wrong
    assert (inbox / "a.png").is_file() and (inbox / "b.png").is_file()  # copied, not moved
    with open(rows, newline="", encoding="utf-8") as stream:
        written = [(Path(r["path"]).name, r["label"]) for r in csv.DictReader(stream)]
    assert written == [("a.png", "cat"), ("b.png", "dog")]  # a row per photo, as it arrived


def test_a_killed_watch_can_still_be_undone(photos, tiny_model, read_tree):
    before = read_tree(photos)
    process = _start_watch(photos, tiny_model, "--move", "-q")
    try:
        wait_for(lambda: (photos / "dog" / "trip" / "rex.png").exists(), "the first walk", 60)
    finally:
        process.kill()
        process.communicate(timeout=DEADLINE)
    (journal,) = (photos / ".catsort").glob("journal-*.jsonl")
    undone = runner.invoke(app, ["undo", str(journal)])
    assert undone.exit_code == 0, undone.output
    assert read_tree(photos) == before


def test_a_lone_raw_file_is_sorted(tmp_path, classifier):
    from rawfile import write_dng

    inbox = tmp_path / "inbox"
    write_dng(inbox / "IMG_9.DNG", RED)  # there before the watch: the first walk
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)):
        wait_for(lambda: (inbox / "cat" / "IMG_9.DNG").is_file(), "the RAW file in cat/")
        write_dng(inbox / "IMG_10.DNG", RED)  # one that arrives
        wait_for(lambda: (inbox / "cat" / "IMG_10.DNG").is_file(), "the new RAW file in cat/")


def test_a_live_photo_video_arriving_after_its_photo_follows_it(
    tmp_path, classifier, make_photo, read_tree
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        make_photo(inbox / "2024" / "IMG_7.JPG", RED)
        wait_for(lambda: len(watching.results) == 1, "the photo")
        (inbox / "2024" / "IMG_7.MOV").write_bytes(b"the video")  # synced a while later
        video = watching.results[0].destination.with_name("IMG_7.MOV")
        wait_for(video.is_file, "the video beside its photo in cat/")
    assert video.parent.name == "cat" and video.read_bytes() == b"the video"
    summary = watching.summary
    assert summary.companions == 1
    undo(summary.journal)
    assert sorted(read_tree(inbox)) == ["2024/IMG_7.JPG", "2024/IMG_7.MOV"]


def test_photos_arriving_in_an_application_library_are_left_there(tmp_path, classifier, make_photo):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        make_photo(inbox / "Photos Library.photoslibrary" / "originals" / "A.jpg", RED)
        make_photo(inbox / "@eaDir" / "B.jpg", RED)
        make_photo(inbox / "kitty.jpg", RED)  # arrives last: once it is sorted, so are they
        wait_for(lambda: "kitty.jpg" in watching.names(), "the photo outside the library")
    assert (inbox / "Photos Library.photoslibrary" / "originals" / "A.jpg").is_file()
    assert (inbox / "@eaDir" / "B.jpg").is_file()
    assert watching.names() == ["kitty.jpg"]


def test_photos_in_another_runs_destination_are_left_there(tmp_path, classifier, make_photo):
    inbox = tmp_path / "inbox"
    (inbox / "backup" / ".catsort").mkdir(parents=True)  # a --copy run's, from before
    make_photo(inbox / "backup" / "cat" / "old.jpg", RED)
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        make_photo(inbox / "backup" / "cat" / "C.jpg", RED)
        make_photo(inbox / "kitty.jpg", RED)  # arrives last: once it is sorted, so is C.jpg
        wait_for(lambda: "kitty.jpg" in watching.names(), "the photo outside the destination")
    assert (inbox / "backup" / "cat" / "C.jpg").is_file()
    assert watching.names() == ["kitty.jpg"]


def test_a_watch_whose_journal_cannot_be_written_stops_with_its_summary(
    tmp_path, classifier, make_photo, monkeypatch
):
    from faults import Faults

    inbox = tmp_path / "inbox"
    make_photo(inbox / "kitty.jpg", RED)
    make_photo(inbox / "rex.png", BLUE)
    Faults(monkeypatch).fail("write", 3, where="journal-")  # after the header and kitty's move
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        wait_for(lambda: not watching.thread.is_alive(), "the watch to stop by itself")
    summary = watching.summary
    assert summary is not None and "cannot write the journal (No space left on device)" in (
        summary.stopped or ""
    )
    assert summary.exit_code == 1
    assert (inbox / "rex.png").is_file(), "nothing moved once the journal took no more"


def test_the_api_example_watches_a_folder_for_a_few_seconds(tmp_path, monkeypatch, capsys):
    from conftest import docstring_example

    import catsort

    samples = Path(__file__).resolve().parent.parent / "samples"
    inbox = tmp_path / "Inbox"
    inbox.mkdir()
    shutil.copy(samples / "cat.2043.jpg", inbox)
    monkeypatch.chdir(tmp_path)
    exec(docstring_example(catsort.watch), {})  # the shipped model, as the example has it
    assert sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*.jpg")) == [
        "cat/cat.2043.jpg"
    ]
    counts, journal = capsys.readouterr().out.split(") ", 1)
    assert counts == "Counter({'cat': 1}" and journal.startswith("Inbox/.catsort/journal-")


# --- videos -------------------------------------------------------------------------------------


def _clip(tmp_path: Path, color: tuple[int, int, int], name: str = "clip.mp4") -> bytes:
    from videofile import write_clip

    (tmp_path / "made").mkdir(exist_ok=True)
    return write_clip(tmp_path / "made" / name, color, seconds=3, size=(160, 120)).read_bytes()


def test_a_video_written_slowly_is_sorted_once_whole_and_never_before(tmp_path, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = _clip(tmp_path, BLUE)
    assert data.rfind(b"moov") > len(data) // 2  # the index comes last, as a camera writes it
    step = len(data) // 6 + 1
    video, sorted_video = inbox / "VID_1.mp4", inbox / "dog" / "VID_1.mp4"
    with Watching(inbox, classifier, SortPlan(MOVE, inbox), settle=SLOW_SETTLE) as watching:
        with open(video, "wb") as out:
            for i in range(0, len(data), step):
                assert not sorted_video.exists() and watching.results == []
                out.write(data[i : i + step])
                out.flush()
                time.sleep(PAUSE)
        wait_for(sorted_video.exists, "the video to be sorted")
    assert sorted_video.read_bytes() == data
    assert [(r.path.name, r.status, r.frames) for r in watching.results] == [("VID_1.mp4", "ok", 3)]


def test_a_video_without_its_index_yet_is_not_taken_until_the_copy_ends(tmp_path, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = _clip(tmp_path, RED)
    half = data[: data.rfind(b"moov") - 8]  # everything but the index: it does not open
    video = inbox / "VID_2.mp4"
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        video.write_bytes(half)  # a sync that stalled before the end
        wait_for(lambda: watching.results, "the stalled video to be given up on")
        assert [(r.path, r.status, r.frames) for r in watching.results] == [(video, "error", 0)]
        assert "unfinished copy" in watching.results[0].error
        assert video.read_bytes() == half  # never moved
        with open(video, "ab") as out:  # the sync goes on: the watch takes it again
            out.write(data[len(half) :])
        wait_for(lambda: len(watching.results) == 2, "the finished video")
    assert (inbox / "cat" / "VID_2.mp4").read_bytes() == data


def test_a_live_photo_video_arriving_before_its_photo_still_goes_with_it(tmp_path, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    video = _clip(tmp_path, BLUE)  # alone it would be a dog: it must not be sorted alone
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        (inbox / "IMG_3.MOV").write_bytes(video)
        time.sleep(SETTLE * 4)  # settled, and waiting for the photo it may belong to
        assert watching.results == [] and (inbox / "IMG_3.MOV").exists()
        Image.new("RGB", (32, 24), RED).save(inbox / "IMG_3.JPG")
        wait_for(lambda: watching.results, "the photo")
    assert [(r.path.name, r.label) for r in watching.results] == [("IMG_3.JPG", "cat")]
    assert sorted(p.name for p in (inbox / "cat").iterdir()) == ["IMG_3.JPG", "IMG_3.MOV"]


def test_a_lone_video_is_sorted_after_waiting_for_a_photo_that_does_not_come(tmp_path, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with Watching(inbox, classifier, SortPlan(MOVE, inbox)) as watching:
        started = time.monotonic()
        (inbox / "VID_4.MOV").write_bytes(_clip(tmp_path, RED))
        (inbox / "VID_5.mkv").write_bytes(_clip(tmp_path, BLUE, "clip.mkv"))  # never a Live Photo
        wait_for(lambda: len(watching.results) == 2, "both videos")
        waited = time.monotonic() - started
    assert sorted((r.path.name, r.label) for r in watching.results) == [
        ("VID_4.MOV", "cat"),
        ("VID_5.mkv", "dog"),
    ]
    assert watching.results[0].path.name == "VID_5.mkv"  # the .mkv did not wait
    assert waited >= WatchSettings(settle=SETTLE).live_photo_wait
