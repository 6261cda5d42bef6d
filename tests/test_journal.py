"""The journal: every move written down first, crashes settled, and undo putting everything back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

import catsort
from catsort import files
from catsort.errors import FAILED, USAGE, CatsortError
from catsort.sorting import journal as journal_module
from catsort.sorting import place as sort
from catsort.sorting.journal import JOURNAL_DIR, Journal, recover, undo
from catsort.sorting.place import COPY, MOVE, Placement, place, place_all, plan


def move_all(files: list[Path], dest: Path, action: str = MOVE) -> Path:
    """Sort files into dest/cat and dest/dog (alternately) through a journal; return its path."""
    reserved: set[Path] = set()
    with Journal.create(dest) as journal:
        for i, path in enumerate(files):
            place(plan(path, dest / ("cat" if i % 2 == 0 else "dog"), action, reserved), journal)
    return journal.path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("ascii").splitlines()]


def test_each_operation_is_on_disk_before_it_happens_and_marked_done_after(
    tmp_path, make_files, monkeypatch
):
    make_files(tmp_path, {"x.jpg": b"x"})
    seen = []
    real_move = sort.move_file

    def move_file(source, target):
        seen.append(lines(next((tmp_path / JOURNAL_DIR).glob("*.jsonl")))[-1])
        real_move(source, target)

    monkeypatch.setattr(sort, "move_file", move_file)
    path = move_all([tmp_path / "x.jpg"], tmp_path)
    source, target = "x.jpg", os.path.join("cat", "x.jpg")
    assert seen == [{"n": 0, "op": "move", "source": source, "target": target, "state": "begin"}]
    assert [(r.get("n"), r["state"]) for r in lines(path)[1:]] == [
        (0, "begin"),
        (0, "done"),
        (None, "closed"),
    ]


def test_a_batch_is_recorded_with_one_disk_sync_and_a_failed_file_is_marked(
    tmp_path, make_files, monkeypatch
):
    make_files(tmp_path, {"a.jpg": b"a", "b.jpg": b"b", "c.jpg": b"c", "cat/b.jpg": b"other"})
    placements = [Placement(tmp_path / n, tmp_path / "cat" / n, MOVE) for n in ("a.jpg", "b.jpg")]
    placements.append(plan(tmp_path / "c.jpg", tmp_path, MOVE))  # already where it belongs
    with Journal.create(tmp_path) as journal:
        syncs = []
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: syncs.append(fd) or real_fsync(fd))
        results = place_all(placements, journal)
        monkeypatch.undo()
    assert results[0] == tmp_path / "cat" / "a.jpg" and results[2] == tmp_path / "c.jpg"
    assert isinstance(results[1], CatsortError) and "already exists" in str(results[1])
    assert len(syncs) == 1
    assert [(r.get("n"), r["state"]) for r in lines(journal.path)[1:]] == [
        (0, "begin"),
        (1, "begin"),
        (0, "done"),
        (1, "aborted"),
        (None, "closed"),
    ]


def test_journal_names_never_collide(tmp_path, monkeypatch, make_files):
    monkeypatch.setattr(journal_module.time, "strftime", lambda fmt: "20240101-120000")
    first, second = Journal.create(tmp_path), Journal.create(tmp_path)
    assert first.path.name == "journal-20240101-120000.jsonl"
    assert second.path.name == "journal-20240101-120000-1.jsonl"
    assert first.path.parent == tmp_path / ".catsort"
    first.close()
    second.close()


def test_a_journal_that_recorded_nothing_is_removed(tmp_path):
    with Journal.create(tmp_path) as journal:
        assert journal.path.exists()
    assert not journal.path.exists()
    assert not (tmp_path / JOURNAL_DIR).exists()


@pytest.mark.parametrize("raw_name", [b"caf\xe9.jpg", 'na"me,\nwith\u00e9\U0001f431.jpg'.encode()])
def test_odd_and_non_utf8_names_round_trip_through_the_journal(tmp_path, raw_name, read_tree):
    name = os.fsdecode(raw_name)
    try:
        (tmp_path / name).write_bytes(b"photo")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses such names")
    before = read_tree(tmp_path)
    path = move_all([tmp_path / name], tmp_path)
    assert (tmp_path / "cat" / name).read_bytes() == b"photo"
    assert lines(path)[1]["source"] == name
    result = undo(path)
    assert result.restored == [tmp_path / name]
    assert read_tree(tmp_path) == before


# --- recovering from a crash -----------------------------------------------------------------


def crashed(tmp_path: Path, action: str, make_state) -> tuple[Path, Path, Path]:
    """Begin one operation in a journal, bring the disk into some state, and 'crash'."""
    source = tmp_path / "x.jpg"
    source.write_bytes(b"photo bytes")
    placement = plan(source, tmp_path / "cat", action)
    journal = Journal.create(tmp_path)
    journal.begin(placement)
    placement.target.parent.mkdir()
    make_state(source, placement.target)
    os.close(journal._fd)  # the process dies: no done line, no closing line
    return journal.path, source, placement.target


def nothing(source, target):
    pass


def moved(source, target):
    os.rename(source, target)


def linked(source, target):
    os.link(source, target)  # the link-then-unlink fallback, stopped half-way


def copied_across(source, target):
    shutil.copy2(source, target)  # across file systems, stopped before the source was removed
    (target.parent / f"{files.TEMP_PREFIX}0123").write_bytes(b"pho")  # and a partial copy


def someone_elses(source, target):
    target.write_bytes(b"another photo")


def symlinked(source, target):
    target.symlink_to(Path("..") / source.name)  # a link to the photo is not the photo moved


@pytest.mark.parametrize(
    ("make_state", "where", "message"),
    [
        (nothing, {"x.jpg": b"photo bytes"}, "interrupted before it was moved, left in place"),
        (moved, {"cat/x.jpg": b"photo bytes"}, "was moved to"),
        (linked, {"cat/x.jpg": b"photo bytes"}, "finished moving to"),
        (copied_across, {"cat/x.jpg": b"photo bytes"}, "finished moving to"),
        (someone_elses, {"x.jpg": b"photo bytes", "cat/x.jpg": b"another photo"}, "left in place"),
        (symlinked, {"x.jpg": b"photo bytes", "cat/x.jpg": b"-> ../x.jpg"}, "left in place"),
    ],
)
def test_recover_settles_an_interrupted_move(tmp_path, read_tree, make_state, where, message):
    journal_path, source, _target = crashed(tmp_path, MOVE, make_state)
    messages = recover(tmp_path)
    assert any(message in m and str(source) in m for m in messages), messages
    assert read_tree(tmp_path) == where, "each file once, no partial copy left"
    assert recover(tmp_path) == [], "a settled journal needs nothing more"
    undo(journal_path)
    left_alone = make_state in (someone_elses, symlinked)
    assert read_tree(tmp_path) == (where if left_alone else {"x.jpg": b"photo bytes"})


@pytest.mark.parametrize(("make_state", "state"), [(nothing, "aborted"), (copied_across, "done")])
def test_recover_settles_an_interrupted_copy(tmp_path, read_tree, make_state, state):
    journal_path, source, _target = crashed(tmp_path, COPY, make_state)
    recover(tmp_path)
    assert source.read_bytes() == b"photo bytes"
    assert [r["state"] for r in lines(journal_path) if r.get("n") == 0][-1] == state
    assert not list((tmp_path / "cat").glob(".*"))


def test_a_copy_of_a_symlinked_photo_is_settled_and_undone_like_any_copy(tmp_path, read_tree):
    # --copy copies the photo a link names; that copy is the link's, not "another file".
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "real.jpg").write_bytes(b"photo bytes")
    source = tmp_path / "x.jpg"
    source.symlink_to(Path("store") / "real.jpg")
    before = read_tree(tmp_path)
    placement = plan(source, tmp_path / "cat", COPY)
    journal = Journal.create(tmp_path)
    journal.begin(placement)
    placement.target.parent.mkdir()
    shutil.copy2(source, placement.target)
    os.close(journal._fd)  # the process dies with the copy made but not marked done
    recover(tmp_path)
    assert [r["state"] for r in lines(journal.path) if r.get("n") == 0][-1] == "done"
    result = undo(journal.path)
    assert result.removed == [placement.target] and result.skipped == []
    assert read_tree(tmp_path) == before


def test_an_operation_recover_cannot_settle_is_tried_again_next_time(tmp_path, monkeypatch):
    crashed(tmp_path, MOVE, linked)

    def refuse(entry):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(journal_module, "settle_entry", refuse)
        assert any("cannot settle" in m for m in recover(tmp_path))
    assert any("finished moving" in m for m in recover(tmp_path))
    assert not (tmp_path / "x.jpg").exists() and (tmp_path / "cat" / "x.jpg").exists()


def test_an_interrupted_move_undo_cannot_settle_is_left_for_undo_run_again(
    tmp_path, monkeypatch, read_tree
):
    journal_path, source, target = crashed(tmp_path, MOVE, linked)

    def refuse(entry):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(journal_module, "settle_entry", refuse)
        result = undo(journal_path)
    assert result.skipped == [
        f"{source}: not put back, its interrupted move to {target} could not be settled"
    ]
    result = undo(journal_path)
    assert result.restored == [source] and result.skipped == []
    assert read_tree(tmp_path) == {"x.jpg": b"photo bytes"}


def test_recover_leaves_a_journal_in_use_alone(tmp_path, make_files):
    make_files(tmp_path, {"x.jpg": b"x"})
    placement = plan(tmp_path / "x.jpg", tmp_path / "cat", MOVE)
    with Journal.create(tmp_path) as journal:
        journal.begin(placement)  # another run, busy with this file right now
        assert recover(tmp_path) == []
        assert (tmp_path / "x.jpg").exists()
        journal.abort(placement)


def test_a_torn_last_line_is_cut_off_and_not_joined(tmp_path, make_files):
    make_files(tmp_path, {"x.jpg": b"x"})
    path = move_all([tmp_path / "x.jpg"], tmp_path)
    whole = path.read_bytes()
    with open(path, "ab") as file:
        file.write(b'{"n": 1, "op": "mo')  # the process died while writing
    assert recover(tmp_path) == []
    # Cut off (which needs no room on a full disk) rather than ended with a newline.
    assert path.read_bytes() == whole + b'{"state": "closed"}\n'
    assert all(json.loads(line) for line in path.read_text("ascii").splitlines())
    undo(path)
    assert (tmp_path / "x.jpg").read_bytes() == b"x"


# --- undo -------------------------------------------------------------------------------------


PHOTOS = {
    "a/x.jpg": b"ax",
    "b/x.jpg": b"bx",
    "b/deep/y.png": b"by",
    "z.jpg": b"z",
    "cat/x.jpg": b"was already there",
    "w.jpg": b"w",
}


def originals(root: Path) -> list[Path]:
    return [root / name for name in PHOTOS if not name.startswith("cat/")]


def test_undo_restores_the_tree_byte_for_byte(tmp_path, make_files, read_tree):
    make_files(tmp_path, PHOTOS)
    before = read_tree(tmp_path)
    path = move_all(originals(tmp_path), tmp_path)
    after = read_tree(tmp_path)
    assert {"cat/x (1).jpg", "dog/x.jpg", "cat/y.png"} <= after.keys()
    result = undo(path)
    assert sorted(result.restored) == sorted(originals(tmp_path)) and result.skipped == []
    assert read_tree(tmp_path) == before
    assert not (tmp_path / "dog").exists(), "a label folder left empty is removed"


def test_undo_refuses_where_the_original_place_is_taken_again(tmp_path, make_files, read_tree):
    make_files(tmp_path, {"a/x.jpg": b"old", "b.jpg": b"b"})
    path = move_all([tmp_path / "a/x.jpg", tmp_path / "b.jpg"], tmp_path)
    make_files(tmp_path, {"a/x.jpg": b"new photo"})
    result = undo(path)
    assert result.restored == [tmp_path / "b.jpg"]
    assert result.skipped == [
        f"{tmp_path / 'cat/x.jpg'}: not moved back, {tmp_path / 'a/x.jpg'} is taken again"
    ]
    assert read_tree(tmp_path) == {"a/x.jpg": b"new photo", "b.jpg": b"b", "cat/x.jpg": b"old"}


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (MOVE, "not moved back, {old} is taken again"),
        (COPY, "kept, its original {old} is now a link to it"),
    ],
)
def test_undo_never_deletes_a_photo_for_a_symlink_at_its_old_place(
    tmp_path, make_files, read_tree, action, reason
):
    make_files(tmp_path, {"a.jpg": b"a"})
    path = move_all([tmp_path / "a.jpg"], tmp_path, action)
    if action == COPY:
        (tmp_path / "a.jpg").unlink()  # the original replaced by a link to its copy
    (tmp_path / "a.jpg").symlink_to(Path("cat") / "a.jpg")
    result = undo(path)
    assert result.restored == [] and result.removed == []
    assert result.skipped == [f"{tmp_path / 'cat/a.jpg'}: " + reason.format(old=tmp_path / "a.jpg")]
    assert read_tree(tmp_path) == {"a.jpg": b"-> cat/a.jpg", "cat/a.jpg": b"a"}


def test_undo_run_again_once_the_place_is_free_puts_back_what_it_left_alone(
    tmp_path, make_files, read_tree
):
    make_files(tmp_path, {"a/x.jpg": b"old", "b.jpg": b"b"})
    path = move_all([tmp_path / "a/x.jpg", tmp_path / "b.jpg"], tmp_path)
    make_files(tmp_path, {"a/x.jpg": b"new photo"})
    assert len(undo(path).skipped) == 1
    (tmp_path / "a/x.jpg").rename(tmp_path / "new.jpg")  # the user frees the place
    result = undo(path)
    assert result.restored == [tmp_path / "a/x.jpg"]
    assert result.skipped == [] and result.notes == [], "only the file left alone is tried again"
    assert read_tree(tmp_path) == {"a/x.jpg": b"old", "b.jpg": b"b", "new.jpg": b"new photo"}
    assert undo(path).already_undone


def test_a_second_undo_says_so_and_changes_nothing(tmp_path, make_files, read_tree):
    make_files(tmp_path, PHOTOS)
    path = move_all(originals(tmp_path), tmp_path)
    undo(path)
    tree = read_tree(tmp_path)
    result = undo(path)
    assert result.already_undone and result.restored == []
    assert "already undone" in result.skipped[0]
    assert read_tree(tmp_path) == tree


def test_undo_removes_copies_only_while_they_match_their_original(tmp_path, make_files, read_tree):
    make_files(tmp_path, {"a.jpg": b"a", "b.jpg": b"b", "c.jpg": b"c"})
    path = move_all([tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"], tmp_path, COPY)
    (tmp_path / "dog" / "b.jpg").write_bytes(b"edited")
    (tmp_path / "c.jpg").unlink()
    result = undo(path)
    assert result.removed == [tmp_path / "cat/a.jpg"]
    assert [s.split(":")[0] for s in result.skipped] == [
        str(tmp_path / "cat/c.jpg"),
        str(tmp_path / "dog/b.jpg"),
    ]
    assert read_tree(tmp_path) == {
        "a.jpg": b"a",
        "b.jpg": b"b",
        "cat/c.jpg": b"c",
        "dog/b.jpg": b"edited",
    }


def test_a_file_already_moved_back_by_hand_is_a_note_not_a_failure(tmp_path, make_files, read_tree):
    make_files(tmp_path, {"a.jpg": b"a", "b.jpg": b"b"})
    path = move_all([tmp_path / "a.jpg", tmp_path / "b.jpg"], tmp_path)
    os.rename(tmp_path / "cat" / "a.jpg", tmp_path / "a.jpg")
    result = undo(path)
    assert result.restored == [tmp_path / "b.jpg"] and result.skipped == []
    assert result.notes == [f"{tmp_path / 'a.jpg'}: already back in place"]
    assert read_tree(tmp_path) == {"a.jpg": b"a", "b.jpg": b"b"}


def test_undo_reports_files_gone_since_instead_of_failing(tmp_path, make_files):
    make_files(tmp_path, {"a.jpg": b"a", "b.jpg": b"b"})
    path = move_all([tmp_path / "a.jpg", tmp_path / "b.jpg"], tmp_path)
    (tmp_path / "cat" / "a.jpg").unlink()
    result = undo(path)
    assert result.restored == [tmp_path / "b.jpg"]
    assert result.skipped == [
        f"{tmp_path / 'cat/a.jpg'}: missing, cannot put back {tmp_path / 'a.jpg'}"
    ]


@pytest.mark.parametrize("what", ["missing", "folder", "not a journal"])
def test_a_bad_journal_path_is_a_usage_error(tmp_path, what):
    path = tmp_path / "journal.jsonl"
    if what == "folder":
        path.mkdir()
    elif what == "not a journal":
        path.write_text("hello\n")
    with pytest.raises(CatsortError, match="journal") as info:
        undo(path)
    assert info.value.kind == USAGE
    assert str(path) in str(info.value)


# --- a real crash -----------------------------------------------------------------------------

MOVER = textwrap.dedent("""
    import errno, sys
    from pathlib import Path
    from catsort import files
    from catsort.sorting import place as sort
    from catsort.sorting.journal import Journal
    from catsort.walk import find_images

    photos, across = Path(sys.argv[1]), sys.argv[2] == "across"
    if across:  # every move between folders takes the copy-then-remove path
        real = files.rename_noreplace
        def rename(source, target):
            if Path(source).parent != Path(target).parent:
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            real(source, target)
        files.rename_noreplace = rename
    labels = [photos / "cat", photos / "dog"]
    reserved = set()
    with Journal.create(photos) as journal:
        print(journal.path, flush=True)
        for i, path in enumerate(find_images([photos], skip_dirs=labels)):
            sort.place(sort.plan(path, labels[i % 2], sort.MOVE, reserved), journal)
            print(i, flush=True)
""")


def run_mover(photos: Path, mode: str, kill_after: int | None = None, delay: float = 0.0) -> Path:
    env = dict(os.environ, PYTHONPATH=str(Path(catsort.__file__).parent.parent))
    proc = subprocess.Popen(
        [sys.executable, "-c", MOVER, str(photos), mode], stdout=subprocess.PIPE, text=True, env=env
    )
    journal_path = Path(proc.stdout.readline().strip())
    if kill_after is None:
        assert proc.wait(timeout=60) == 0
    else:
        for line in proc.stdout:
            if int(line) >= kill_after:
                time.sleep(delay)  # so that the kill lands somewhere inside an operation
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
    return journal_path


def hashes(tree: dict[str, bytes]) -> Counter:
    return Counter(hashlib.sha256(data).hexdigest() for data in tree.values())


@pytest.mark.parametrize("mode", ["same", "across"])
def test_a_run_killed_part_way_loses_nothing_and_can_be_finished_and_undone(
    tmp_path, make_files, read_tree, mode
):
    photos = make_files(
        tmp_path / "photos",
        {
            f"{folder}/img{i:03d}.jpg": os.urandom(2000 + i * 100)
            for i, folder in zip(range(200), ["a", "b", "a/c", "d"] * 50)
        },
    )
    before = read_tree(photos)
    first = run_mover(photos, mode, kill_after=20, delay=0.003)

    def where(tree):  # original hash -> places now
        return {
            h: [k for k, v in tree.items() if hashlib.sha256(v).hexdigest() == h]
            for h in hashes(before)
        }

    visible = {k: v for k, v in read_tree(photos).items() if not Path(k).name.startswith(".")}
    moved = [k for k in visible if k.split("/")[0] in ("cat", "dog")]
    assert 20 <= len(moved) < 200, "the kill should land part way"
    for original, places in zip(before, where(visible).values()):
        assert places, f"{original} is lost"
        # Across file systems the file in flight may briefly exist twice: copied, not yet removed.
        assert len(places) == 1 or (mode == "across" and len(places) == 2), places
        assert all(p == original or p.split("/")[0] in ("cat", "dog") for p in places)

    recover(photos)
    after_recover = read_tree(photos)
    assert hashes(after_recover) == hashes(before), "each photo exactly once, no partial copies"

    second = run_mover(photos, mode)
    finished = read_tree(photos)
    assert hashes(finished) == hashes(before)
    assert all(k.split("/")[0] in ("cat", "dog") for k in finished), "the rerun finished the job"

    for journal_path in (second, first):
        assert undo(journal_path).skipped == []
    assert read_tree(photos) == before


# --- journals relative to their destination --------------------------------------------------


def test_undo_after_the_library_folder_is_renamed_restores_the_tree(
    tmp_path, make_files, read_tree
):
    library = tmp_path / "Pictures"
    make_files(library, {"in/a.jpg": b"a", "in/b.png": b"b", "c.jpg": b"c"})
    before = read_tree(library)
    photos = [library / "in" / "a.jpg", library / "in" / "b.png", library / "c.jpg"]
    path = move_all(photos, library / "sorted")
    record = lines(path)[1]
    assert (record["source"], record["target"]) == (
        os.path.join("..", "in", "a.jpg"),
        os.path.join("cat", "a.jpg"),
    )
    renamed = tmp_path / "Photos"
    library.rename(renamed)
    result = undo(renamed / "sorted" / JOURNAL_DIR / path.name)
    assert result.skipped == []
    assert sorted(result.restored) == sorted(renamed / p.relative_to(library) for p in photos)
    assert read_tree(renamed) == before


def test_a_journal_with_absolute_paths_from_an_earlier_version_is_still_undone(
    tmp_path, make_files, read_tree
):
    make_files(tmp_path, {"x.jpg": b"x"})
    before = read_tree(tmp_path)
    folder = tmp_path / "sorted" / JOURNAL_DIR
    folder.mkdir(parents=True)
    (tmp_path / "sorted" / "cat").mkdir()
    (tmp_path / "x.jpg").rename(tmp_path / "sorted" / "cat" / "x.jpg")
    source, target = str(tmp_path / "x.jpg"), str(tmp_path / "sorted" / "cat" / "x.jpg")
    records = [
        {"journal": "catsort", "version": 1, "dest": str(tmp_path / "sorted")},
        {"n": 0, "op": "move", "source": source, "target": target, "state": "begin"},
        {"n": 0, "op": "move", "source": source, "target": target, "state": "done"},
        {"state": "closed"},
    ]
    path = folder / "journal-20250101-000000.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "ascii")
    result = undo(path)
    assert result.restored == [tmp_path / "x.jpg"] and result.skipped == []
    assert read_tree(tmp_path) == before


def test_undo_after_moving_a_separate_destination_puts_photos_back_in_their_folder(
    tmp_path, make_photo, tiny_model, read_tree
):
    import catsort

    inbox = tmp_path / "inbox"
    make_photo(inbox / "red.jpg", (230, 20, 20))
    make_photo(inbox / "blue.jpg", (20, 20, 230))
    before = read_tree(inbox)
    model = catsort.load_model(tiny_model)
    summary = catsort.sort_photos(inbox, "move", model, dest=tmp_path / "sorted")
    assert summary.placed == 2 and summary.journal is not None
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "sorted").rename(tmp_path / "elsewhere" / "sorted")
    journal = tmp_path / "elsewhere" / "sorted" / ".catsort" / summary.journal.name
    undone = catsort.undo(journal)
    assert len(undone.restored) == 2 and not undone.skipped
    assert read_tree(inbox) == before
    assert not (tmp_path / "elsewhere" / "inbox").exists()


# --- groups: a photo and its companions -------------------------------------------------------


class Crash(BaseException):
    """The process dying at this point (nothing after it runs)."""


def _crash_after_the_photo(monkeypatch, photo: Path) -> None:
    real = sort.move_file

    def move_file(source, target):
        if Path(source) != photo:
            raise Crash
        real(source, target)

    monkeypatch.setattr(sort, "move_file", move_file)


def _group(tmp_path, make_files) -> list[Path]:
    make_files(tmp_path, {"in/IMG.JPG": b"jpeg", "in/IMG.CR2": b"raw", "in/IMG.JPG.xmp": b"xmp"})
    return [tmp_path / "in" / name for name in ("IMG.JPG", "IMG.CR2", "IMG.JPG.xmp")]


def test_a_group_split_by_a_crash_is_finished_by_recover_and_undone_whole(
    tmp_path, make_files, read_tree, monkeypatch
):
    members = _group(tmp_path, make_files)
    before = read_tree(tmp_path)
    _crash_after_the_photo(monkeypatch, members[0])
    with pytest.raises(Crash), Journal.create(tmp_path) as journal:
        sort.place_group(sort.plan_group(members[0], members[1:], tmp_path / "cat", MOVE), journal)
    monkeypatch.undo()
    assert sorted(read_tree(tmp_path)) == ["cat/IMG.JPG", "in/IMG.CR2", "in/IMG.JPG.xmp"]
    records = lines(journal.path)
    assert [r.get("group") for r in records[1:4]] == [0, 0, 0]
    messages = recover(tmp_path)
    assert messages == [
        f"{members[0]}: finished the interrupted move of its group (2 of 3 files) to "
        f"{tmp_path / 'cat'}"
    ]
    assert sorted(read_tree(tmp_path)) == ["cat/IMG.CR2", "cat/IMG.JPG", "cat/IMG.JPG.xmp"]
    assert recover(tmp_path) == []  # settled for good
    assert undo(journal.path).skipped == []
    assert read_tree(tmp_path) == before


def test_a_split_group_that_cannot_be_finished_is_put_back_whole(
    tmp_path, make_files, read_tree, monkeypatch
):
    members = _group(tmp_path, make_files)
    before = read_tree(tmp_path)
    _crash_after_the_photo(monkeypatch, members[0])
    with pytest.raises(Crash), Journal.create(tmp_path) as journal:
        sort.place_group(sort.plan_group(members[0], members[1:], tmp_path / "cat", MOVE), journal)
    monkeypatch.undo()
    (tmp_path / "cat" / "IMG.JPG.xmp").write_bytes(b"another file took its place meanwhile")
    (message,) = recover(tmp_path)
    assert "could not be finished" in message and message.endswith("put back where it was")
    assert read_tree(tmp_path) == {
        **before,
        "cat/IMG.JPG.xmp": b"another file took its place meanwhile",
    }
    assert undo(journal.path).skipped == []  # nothing of it is left to put back
    assert read_tree(tmp_path)["in/IMG.JPG"] == b"jpeg"


def test_a_group_member_that_fails_takes_the_group_back_and_the_journal_says_so(
    tmp_path, make_files, read_tree, monkeypatch
):
    members = _group(tmp_path, make_files)
    before = read_tree(tmp_path)
    real = sort.move_file

    def refuse_the_sidecar(source, target):
        if Path(source).name == "IMG.JPG.xmp":
            raise CatsortError(
                f"{source}: cannot move to {target} (no space left on device)", FAILED
            )
        real(source, target)

    monkeypatch.setattr(sort, "move_file", refuse_the_sidecar)
    with Journal.create(tmp_path) as journal:
        placements = sort.plan_group(members[0], members[1:], tmp_path / "cat", MOVE)
        with pytest.raises(sort.GroupFailed) as info:
            sort.place_group(placements, journal)
        states = [(r["n"], r["state"]) for r in lines(journal.path)[4:]]
    assert info.value.member == members[2] and info.value.split == []
    assert read_tree(tmp_path) == before and not (tmp_path / "cat").exists()
    assert states == [(0, "done"), (1, "done"), (1, "reverted"), (0, "reverted"), (2, "aborted")]
    assert journal.completed == 0
    assert not journal.path.exists(), "nothing changed: nothing to put back, no journal kept"


def test_undo_leaves_a_group_whole_where_one_old_place_is_taken_until_it_is_free(
    tmp_path, make_files, read_tree
):
    members = _group(tmp_path, make_files)
    before = read_tree(tmp_path)
    with Journal.create(tmp_path) as journal:
        sort.place_group(sort.plan_group(members[0], members[1:], tmp_path / "cat", MOVE), journal)
    members[2].write_bytes(b"a new sidecar written since")
    result = undo(journal.path)
    assert result.restored == []
    assert result.skipped == [
        f"{tmp_path / 'cat' / 'IMG.JPG'}: not moved back with its 2 companions, "
        f"{members[2]} is taken again"
    ]
    assert sorted(os.listdir(tmp_path / "cat")) == ["IMG.CR2", "IMG.JPG", "IMG.JPG.xmp"]
    members[2].unlink()
    assert undo(journal.path).skipped == []
    assert read_tree(tmp_path) == before


def test_a_record_of_a_kind_no_module_registered_keeps_the_journal_from_being_undone(
    tmp_path, make_files, read_tree
):
    make_files(tmp_path, {"in/a.jpg": b"a"})
    journal_path = move_all([tmp_path / "in" / "a.jpg"], tmp_path)
    with Journal.open(journal_path) as journal:  # as a newer catsort might write one
        n = journal.number()
        journal.append({"n": n, "op": "hologram", "state": "begin"}, sync=True)
        journal.append({"n": n, "op": "hologram", "state": "done"})
    result = undo(journal_path)
    assert result.restored == [tmp_path / "in" / "a.jpg"]
    assert result.skipped == [f"{journal_path}: its 'hologram' records are not undone here"]
    assert not journal_module.is_undone(journal_path)


def test_a_registered_kind_is_settled_and_undone_by_the_journal(tmp_path, make_files, monkeypatch):
    calls = []

    class Holograms:
        def interrupted_folders(self, journal):
            calls.append("settle")
            return {tmp_path / "holograms"}

        def undo(self, journal, result):
            calls.append("undo")
            result.notes.append(f"{len(journal.records)} hologram records put back")

    monkeypatch.setitem(journal_module._KINDS, "hologram", Holograms())
    make_files(tmp_path, {"in/a.jpg": b"a", f"holograms/{files.TEMP_PREFIX}1": b"partial"})
    journal_path = move_all([tmp_path / "in" / "a.jpg"], tmp_path)
    with open(journal_path, "a", encoding="ascii") as file:  # begun, then the run was killed
        file.write(json.dumps({"n": 99, "op": "hologram", "state": "begin"}) + "\n")
    assert recover(tmp_path)[-1].endswith("removed a partial copy left by an interrupted run")
    result = undo(journal_path)
    assert calls == ["settle", "settle", "undo"] and "1 hologram records put back" in result.notes
    assert journal_module.is_undone(journal_path)
