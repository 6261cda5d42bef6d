"""The results cache, resumed jobs and `undo --all`, through the command line with tiny models."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BLUE, GREY, RED
from typer.testing import CliRunner

from catsort.cache import CACHE_NAME, ResultsCache, cache_location, fingerprint
from catsort.cli import app
from catsort.model import Classifier, load_model
from catsort.report.read import read_results
from catsort.sorting.journal import journals_newest_first

runner = CliRunner()


def classify(model: Path, *args: object):
    return runner.invoke(app, ["classify", "--model", str(model), *map(str, args)])


def rows_of(text: str) -> dict[str, dict[str, str]]:
    """CSV rows by file name."""
    return {Path(row["path"]).name: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def predicted(monkeypatch) -> list[int]:
    """Counts the photos the model is run on, in every worker's copy of it."""
    seen: list[int] = []
    predict = Classifier.predict

    def counting(self, batch):
        seen.append(len(batch))
        return predict(self, batch)

    monkeypatch.setattr(Classifier, "predict", counting)
    return seen


def test_a_rerun_reads_no_photo_it_already_knows(photos, tiny_model, predicted):
    first = classify(tiny_model, photos, "--csv", "-")
    assert first.exit_code == 0, first.output
    assert sum(predicted) == 4
    assert {row["cached"] for row in rows_of(first.stdout).values()} == {"no"}

    predicted.clear()
    again = classify(tiny_model, photos, "--csv", "-")
    assert again.exit_code == 0, again.output
    assert sum(predicted) == 0, "no photo was run through the model again"
    assert "from the cache" in again.stderr and "from the cache" not in first.stderr
    rows, before = rows_of(again.stdout), rows_of(first.stdout)
    assert {row["cached"] for row in rows.values()} == {"yes"}
    for name, row in rows.items():  # the same answers as the run that read the photos
        assert {k: v for k, v in row.items() if k != "cached"} == {
            k: v for k, v in before[name].items() if k != "cached"
        }


def test_a_photo_changed_under_the_same_name_is_classified_again(
    photos, tiny_model, make_photo, predicted
):
    assert classify(tiny_model, photos, "--csv", "-").exit_code == 0
    kitty = photos / "kitty.jpg"
    mtime = kitty.stat().st_mtime_ns
    make_photo(kitty, BLUE)  # new content, same name
    os.utime(kitty, ns=(mtime + 10**9, mtime + 10**9))
    predicted.clear()
    result = classify(tiny_model, photos, "--csv", "-")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert (rows["kitty.jpg"]["label"], rows["kitty.jpg"]["cached"]) == ("dog", "no")
    assert [rows[name]["cached"] for name in ("rex.png", "blur.png", "tree.png")] == ["yes"] * 3
    assert sum(predicted) == 1


def test_another_model_classifies_again_and_each_keeps_its_rows(photos, tiny_models):
    assert classify(tiny_models["float"], photos, "--csv", "-").exit_code == 0
    other = classify(tiny_models["int8"], photos, "--csv", "-")
    assert other.exit_code == 0, other.output
    assert {row["cached"] for row in rows_of(other.stdout).values()} == {"no"}
    back = classify(tiny_models["float"], photos, "--csv", "-")
    assert {row["cached"] for row in rows_of(back.stdout).values()} == {"yes"}


def test_a_new_threshold_relabels_from_the_cache_without_reading_photos(
    photos, tiny_model, predicted
):
    first = rows_of(classify(tiny_model, photos, "--csv", "-").stdout)
    assert first["kitty.jpg"]["label"] == "cat"
    strict = float(first["kitty.jpg"]["confidence"]) + 0.0001
    predicted.clear()
    result = classify(tiny_model, photos, "--csv", "-", "--threshold", strict)
    rows = rows_of(result.stdout)
    assert sum(predicted) == 0
    assert (rows["kitty.jpg"]["label"], rows["kitty.jpg"]["cached"]) == ("uncertain", "yes")
    ungated = rows_of(classify(tiny_model, photos, "--csv", "-", "--no-gate").stdout)
    assert first["tree.png"]["label"] == "other" and ungated["tree.png"]["label"] != "other"


def test_refresh_classifies_everything_again_and_updates_the_cache(
    photos, tiny_model, make_photo, predicted
):
    assert classify(tiny_model, photos, "--csv", "-").exit_code == 0
    predicted.clear()
    refreshed = classify(tiny_model, photos, "--csv", "-", "--refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert sum(predicted) == 4
    assert {row["cached"] for row in rows_of(refreshed.stdout).values()} == {"no"}
    again = classify(tiny_model, photos, "--csv", "-")
    assert {row["cached"] for row in rows_of(again.stdout).values()} == {"yes"}


def test_no_cache_neither_reads_nor_writes_one(photos, tiny_model, _cache_home, predicted):
    for _ in range(2):
        result = classify(tiny_model, photos, "--csv", "-", "--no-cache")
        assert {row["cached"] for row in rows_of(result.stdout).values()} == {"no"}
    assert sum(predicted) == 8
    assert not (_cache_home / "catsort").exists()


def test_a_csv_only_run_keeps_its_cache_in_the_user_cache_folder(
    photos, tiny_model, _cache_home, tmp_path
):
    listing = sorted(str(p.relative_to(photos)) for p in photos.rglob("*"))
    result = classify(tiny_model, photos, "--csv", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(photos)) for p in photos.rglob("*")) == listing
    caches = list((_cache_home / "catsort" / "results").glob("*.sqlite3"))
    assert len(caches) == 1
    # Keyed by the folder as resolved: the same folder by another name finds the same cache.
    link = tmp_path / "link-to-photos"
    link.symlink_to(photos)
    again = classify(tiny_model, link, "--csv", "-")
    assert {row["cached"] for row in rows_of(again.stdout).values()} == {"yes"}
    assert list((_cache_home / "catsort" / "results").glob("*.sqlite3")) == caches


def test_a_moved_photo_is_known_at_its_new_place(photos, tiny_model):
    result = classify(tiny_model, photos, "--move")
    assert result.exit_code == 0, result.output
    path = photos / ".catsort" / CACHE_NAME
    assert path.is_file()
    model = load_model(tiny_model)
    with ResultsCache.open(path, photos, fingerprint(model)) as cache:  # type: ignore[union-attr]
        assert cache.get(photos / "cat" / "kitty.jpg") is not None
        assert cache.get(photos / "dog" / "trip" / "rex.png") is not None
        assert cache.get(photos / "blur.png") is not None  # uncertain: stayed where it was


def test_a_second_move_run_over_a_sorted_library_reads_nothing_it_has_seen(
    photos, tiny_model, make_photo, predicted
):
    assert classify(tiny_model, photos, "--move").exit_code == 0
    make_photo(photos / "new.png", RED)
    predicted.clear()
    result = classify(tiny_model, photos, "--move", "--csv", "-")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert {name: row["cached"] for name, row in rows.items()} == {
        "blur.png": "yes",
        "tree.png": "yes",
        "new.png": "no",
    }
    assert sum(predicted) == 1
    assert (photos / "cat" / "new.png").is_file()


def test_a_csv_only_run_over_a_sorted_library_uses_its_cache(
    photos, tiny_model, _cache_home, predicted
):
    assert classify(tiny_model, photos, "--move").exit_code == 0
    predicted.clear()
    whole = classify(tiny_model, photos, "--csv", "-")
    assert whole.exit_code == 0, whole.output
    assert {row["cached"] for row in rows_of(whole.stdout).values()} == {"yes"}
    part = classify(tiny_model, photos / "cat", "--csv", "-")  # one folder of it: the same cache
    assert {name: row["cached"] for name, row in rows_of(part.stdout).items()} == {
        "kitty.jpg": "yes"
    }
    assert sum(predicted) == 0, "no photo the sorting run saw was read again"
    assert not (_cache_home / "catsort").exists(), "no second cache in the user's folder"


# --- what a person decided (catsort review) ------------------------------------------------------


def decide(cache_file: Path, base: Path, photo: Path, label: str) -> None:
    """Remember a person's label, as catsort review does through its session."""
    with ResultsCache.open(cache_file, base, "any model") as cache:  # type: ignore[union-attr]
        cache.decide(photo, label)


def test_a_persons_label_wins_over_the_model_in_every_later_run_and_refresh(
    photos, tiny_model, _cache_home
):
    assert classify(tiny_model, photos, "--csv", "-").exit_code == 0
    decide(cache_location(photos), photos, photos / "kitty.jpg", "dog")  # red: the model says cat
    for extra in ([], ["--refresh"], ["--threshold", "0.99"]):
        result = classify(tiny_model, photos, "--csv", "-", *extra)
        assert result.exit_code == 0, result.output
        assert rows_of(result.stdout)["kitty.jpg"]["label"] == "dog", extra
        assert rows_of(result.stdout)["kitty.jpg"]["p_cat"] > "0.9"  # the scores stay the model's
    # The library sorted later: the person's label decides where the photo goes, for good.
    moved = classify(tiny_model, photos, "--move")
    assert moved.exit_code == 0, moved.output
    assert (photos / "dog" / "kitty.jpg").is_file()
    assert re.search(r"labels a person decided\W+1", moved.stderr)
    again = classify(tiny_model, photos / "dog", "--move", "--csv", "-")
    assert rows_of(again.stdout)["kitty.jpg"]["label"] == "dog"
    assert (photos / "dog" / "kitty.jpg").is_file()


def test_a_persons_label_follows_the_photo_renamed_not_its_copy_or_a_changed_one(
    tmp_path, make_photo
):
    photo = make_photo(tmp_path / "lib" / "a.jpg", RED)
    cache_file = tmp_path / "cache.sqlite3"
    decide(cache_file, tmp_path / "lib", photo, "dog")
    copy = tmp_path / "lib" / "copy.jpg"
    shutil.copy2(photo, copy)  # the same bytes, size and time, the decided photo still there
    renamed = tmp_path / "lib" / "2019" / "renamed.jpg"
    with ResultsCache.open(cache_file, tmp_path / "lib", "m") as cache:  # type: ignore[union-attr]
        assert cache.decision(photo) == "dog"
        assert cache.decision(copy) is None
        renamed.parent.mkdir()
        os.rename(photo, renamed)  # by a file manager, or catsort undo
        assert cache.decision(renamed) == "dog"
        assert cache.decisions() == [(renamed, "dog")]  # followed, for good
        make_photo(renamed, BLUE)  # new bytes under the name: no longer what the person saw
        assert cache.decision(renamed) is None


@pytest.mark.parametrize("where", ["dest", "user"])
def test_a_damaged_cache_file_is_a_warning_and_a_fresh_cache(
    photos, tiny_model, _cache_home, where
):
    args: list[object] = ["--move"] if where == "dest" else ["--csv", os.devnull]
    assert classify(tiny_model, photos, *args).exit_code == 0
    if where == "dest":
        path = photos / ".catsort" / CACHE_NAME
    else:
        (path,) = (_cache_home / "catsort" / "results").glob("*.sqlite3")
    path.write_bytes(b"this is not a database\n" * 200)
    result = classify(tiny_model, photos, *args, "--quiet")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if "results cache" in line]
    assert len(warning) == 1 and str(path) in warning[0], result.stderr
    assert "started a fresh one" in warning[0]
    again = classify(tiny_model, photos, *args, "--csv", "-")
    assert "results cache" not in again.stderr
    assert {row["cached"] for row in rows_of(again.stdout).values()} == {"yes"}


def test_a_reader_holding_the_cache_open_does_not_stop_a_run(photos, tiny_model, _cache_home):
    import sqlite3

    assert classify(tiny_model, photos, "--csv", os.devnull).exit_code == 0
    (path,) = (_cache_home / "catsort" / "results").glob("*.sqlite3")
    reader = sqlite3.connect(path)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM results").fetchone() == (4,)
        result = classify(tiny_model, photos, "--csv", "-", "--refresh")  # writes every row
        assert result.exit_code == 0, result.output
        assert "results cache" not in result.stderr
        assert reader.execute("SELECT count(*) FROM results").fetchone() == (4,)
    finally:
        reader.close()


def test_a_cache_that_cannot_be_made_is_a_warning_and_the_run_goes_on(photos, tiny_model):
    (photos / ".catsort" / CACHE_NAME).mkdir(parents=True)  # a folder where the file would be
    result = classify(tiny_model, photos, "--move", "--csv", "-")
    assert result.exit_code == 0, result.output
    assert "running without it" in result.stderr
    assert (photos / "cat" / "kitty.jpg").is_file()
    assert {row["cached"] for row in rows_of(result.stdout).values()} == {"no"}


def test_errors_are_not_cached_so_a_fixed_file_is_read_again(tmp_path, tiny_model, make_photo):
    folder = tmp_path / "in"
    make_photo(folder / "ok.png", RED)
    (folder / "broken.png").write_bytes(b"not yet")
    for _ in range(2):
        rows = rows_of(classify(tiny_model, folder, "--csv", "-").stdout)
        assert (rows["broken.png"]["status"], rows["broken.png"]["cached"]) == ("error", "no")
    make_photo(folder / "broken.png", BLUE)
    rows = rows_of(classify(tiny_model, folder, "--csv", "-").stdout)
    assert (rows["broken.png"]["label"], rows["broken.png"]["cached"]) == ("dog", "no")


def test_skipped_photos_are_cached(tmp_path, tiny_model, make_photo):
    make_photo(tmp_path / "in" / "dot.png", RED, size=(4, 4))
    classify(tiny_model, tmp_path / "in", "--csv", "-")
    result = classify(tiny_model, tmp_path / "in", "--csv", "-")
    assert result.exit_code == 0, result.output
    row = rows_of(result.stdout)["dot.png"]
    assert (row["status"], row["cached"]) == ("skipped", "yes")
    assert "too small" in row["error"]


def test_a_cache_made_before_videos_were_read_keeps_its_rows_and_learns_frames(tmp_path):
    import sqlite3

    from catsort.cache import Known

    path = tmp_path / CACHE_NAME
    old = sqlite3.connect(path)  # as catsort wrote it before issue 31: no frames column
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
    old.execute("INSERT INTO meta VALUES ('schema', 1)")
    old.execute(
        "CREATE TABLE results (path BLOB NOT NULL, model TEXT NOT NULL, size INTEGER NOT NULL, "
        "mtime_ns INTEGER NOT NULL, logits TEXT, pet_score REAL, skipped TEXT, "
        "PRIMARY KEY (path, model))"
    )
    photo, video = tmp_path / "a.jpg", tmp_path / "b.mp4"
    photo.write_bytes(b"photo")
    video.write_bytes(b"video")
    st = os.stat(photo)
    old.execute(
        "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
        (b"a.jpg", "model", st.st_size, st.st_mtime_ns, "[1.5]", 0.9, None),
    )
    old.commit()
    old.close()
    with ResultsCache.open(path, tmp_path, "model") as cache:
        assert cache.get(photo) == Known((1.5,), 0.9)  # not lost: no photo read again
        cache.put([(cache.stamp(video), Known((-2.0,), 0.8, frames=3))])
    with ResultsCache.open(path, tmp_path, "model") as cache:
        assert cache.get(video) == Known((-2.0,), 0.8, frames=3)
        assert cache.get(photo) == Known((1.5,), 0.9)


def test_a_results_csv_without_the_cached_column_still_reads(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text(
        "path,label,confidence,p_cat,p_dog,pet_score,status,error,destination\n"
        "a.jpg,cat,0.99,0.99,0.01,0.9,ok,,\n"
    )
    (row,) = read_results(old).rows
    assert row.label == "cat" and not row.cached
    new = tmp_path / "new.csv"
    new.write_text(old.read_text().replace("destination\n", "destination,cached\n") + "")
    new.write_text(new.read_text().replace("ok,,\n", "ok,,,yes\n"))
    assert read_results(new).rows[0].cached


# --- resuming an interrupted job ----------------------------------------------------------------


def _library(root: Path, make_photo, count: int = 200) -> Path:
    for i in range(count):
        color = (RED, BLUE, GREY)[i % 3]
        make_photo(root / f"{i:03}.png", color, size=(24 + i % 5, 16))
    return root


def _command(root: Path, model: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "catsort",
        "classify",
        str(root),
        "--move",
        "--model",
        str(model),
        "--csv",
        str(out),
        "--batch-size",
        "1",
        "--threads",
        "1",
    ]


def _moved(root: Path) -> int:
    return sum(len(os.listdir(root / label)) for label in ("cat", "dog") if (root / label).is_dir())


def test_a_killed_move_run_then_the_same_command_lists_every_photo_once(
    tmp_path, tiny_model, make_photo, read_tree
):
    root = _library(tmp_path / "photos", make_photo)
    names = sorted(p.name for p in root.iterdir())
    before = read_tree(root)
    out = tmp_path / "k.csv"
    process = subprocess.Popen(
        _command(root, tiny_model, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and _moved(root) < 20:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    moved_first = _moved(root)
    assert 0 < moved_first < 133, "the kill should land part way"

    done = subprocess.run(
        _command(root, tiny_model, out), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    with open(out, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(Path(row["path"]).name for row in rows) == names  # every photo, once
    assert all(Path(row["path"]).parent == root for row in rows)
    by_name = {Path(row["path"]).name: row for row in rows}
    for label in ("cat", "dog"):
        for photo in (root / label).iterdir():  # the first run's moves are listed too
            assert by_name[photo.name]["destination"] == str(photo)
            assert by_name[photo.name]["label"] == label
    stderr = " ".join(done.stderr.split())
    assert "results cache" not in stderr, "the killed run left a cache that still reads"
    assert "moved before" in stderr
    assert f"To put everything back: catsort undo --all {root}" in stderr

    undone = runner.invoke(app, ["undo", "--all", str(root)])
    assert undone.exit_code == 0, undone.output
    assert read_tree(root) == before


def test_a_finished_job_is_not_resumed(photos, tiny_model, make_photo):
    assert classify(tiny_model, photos, "--move").exit_code == 0
    make_photo(photos / "new.png", BLUE)
    result = classify(tiny_model, photos, "--move", "--csv", "-")
    assert sorted(rows_of(result.stdout)) == ["blur.png", "new.png", "tree.png"]
    journals = journals_newest_first(photos / ".catsort")
    assert len(journals) == 2
    # Only this run's journal: the earlier run was a job of its own.
    assert f"To put everything back: catsort undo {journals[0]}\n" in result.stderr


def test_a_job_undone_after_it_was_stopped_is_not_resumed(photos, tiny_model):
    assert classify(tiny_model, photos, "--move").exit_code == 0
    job = photos / ".catsort" / "job.json"
    job.write_text(job.read_text().replace('"finished": true', '"finished": false'))  # killed
    assert runner.invoke(app, ["undo", "--all", str(photos)]).exit_code == 0
    result = classify(tiny_model, photos, "--move")
    assert result.exit_code == 0, result.output
    newest = journals_newest_first(photos / ".catsort")[0]
    # The undone run is no part of this one: undoing this run is undoing its own journal.
    assert f"To put everything back: catsort undo {newest}\n" in result.stderr


# --- undo --all and the lock ------------------------------------------------------------------


def test_undo_all_puts_back_every_run_newest_first(photos, tiny_model, make_photo, read_tree):
    first = read_tree(photos)
    assert classify(tiny_model, photos, "--move").exit_code == 0
    make_photo(photos / "kitty2.jpg", RED)
    make_photo(photos / "rex2.png", BLUE)
    added = {k: v for k, v in read_tree(photos).items() if k in ("kitty2.jpg", "rex2.png")}
    assert classify(tiny_model, photos, "--move").exit_code == 0
    assert len(list((photos / ".catsort").glob("journal-*.jsonl"))) == 2

    result = runner.invoke(app, ["undo", "--all", str(photos)])
    assert result.exit_code == 0, result.output
    assert read_tree(photos) == {**first, **added}
    again = runner.invoke(app, ["undo", "--all", str(photos)])
    assert again.exit_code == 0, again.output
    assert again.stderr.count("already undone, passed over") == 2
    assert read_tree(photos) == {**first, **added}


def test_undo_all_of_a_folder_without_journals_exits_2(tmp_path):
    result = runner.invoke(app, ["undo", "--all", str(tmp_path)])
    assert result.exit_code == 2
    assert "no catsort journals" in result.stderr


def test_undo_waits_for_no_one_while_a_run_sorts_into_the_folder(photos, tiny_model, read_tree):
    from catsort.sorting.lock import DestinationLock

    assert classify(tiny_model, photos, "--move").exit_code == 0
    sorted_tree = read_tree(photos)
    (journal,) = (photos / ".catsort").glob("journal-*.jsonl")
    with DestinationLock.acquire(photos / ".catsort"):
        for args in (["undo", str(journal)], ["undo", "--all", str(photos)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2, result.output
            assert "another catsort run" in result.stderr
    assert read_tree(photos) == sorted_tree
    assert runner.invoke(app, ["undo", str(journal)]).exit_code == 0
    assert not (photos / ".catsort" / "lock").exists()
