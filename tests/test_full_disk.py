"""Every write catsort makes survives failing: a full, read-only or failing disk, each write.

The command line is driven for real (Typer's CliRunner) while tests/faults.py makes one write
step fail (opening a file to be written, a write, a sync, a rename, a CSV row, the cache's SQL);
then, on a real small tmpfs where the test may mount one, a disk that really fills up. Each
checks what a user would: no traceback, one line saying what could not be written, every photo
whole in its old place or completely in its new one, no partial file left, and a journal that
``catsort undo`` replays to the very bytes and names the library had.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BLUE, GREY, RED
from faults import FILE_STEPS, STEPS, Faults, temporary_files
from typer.testing import CliRunner

import catsort
import catsort.api
from catsort.cli import app

runner = CliRunner()
LABELS = ("cat/", "dog/")


def classify(model: Path, *args: object):
    return runner.invoke(app, ["classify", "--model", str(model), *map(str, args)])


def undo_all(dest: Path):
    return runner.invoke(app, ["undo", "--all", str(dest)])


@pytest.fixture
def template(tmp_path_factory, make_photo, make_files) -> Path:
    """A small library: a cat with its Live Photo video, a dog, an uncertain photo, a clip of a
    cat (a video is moved, copied, tagged and reviewed as a photo is: the same writes)."""
    from videofile import write_clip

    root = tmp_path_factory.mktemp("template") / "Photos"
    make_photo(root / "2019" / "kitty.jpg", RED)
    make_files(root, {"2019/kitty.mov": b"a live photo's video"})
    make_photo(root / "2020" / "rex.png", BLUE)
    make_photo(root / "blur.png", GREY)
    (root / "2021").mkdir()
    write_clip(root / "2021" / "purr.mp4", RED, seconds=1.0)
    return root


def fresh(template: Path, tmp_path: Path, n: int) -> Path:
    """A copy of the template library of its own, for one run."""
    return Path(shutil.copytree(template, tmp_path / f"run{n}" / "Photos"))


def assert_whole(before: dict[str, bytes], library: Path, dest: Path, action: str, read_tree):
    """Every file whole, once, in its old place or completely in its new one; no partial file."""
    assert temporary_files(library.parent) == [], "a half-written copy was left"
    after = read_tree(library)
    if action == "--move":
        assert Counter(after.values()) == Counter(before.values()), "a file lost or doubled"
        where = {content: name for name, content in before.items()}
        for name, content in after.items():
            if name not in before or before[name] != content:
                label, _, rest = name.partition("/")
                assert f"{label}/" in LABELS and rest == where[content], name
    else:
        assert {name: after[name] for name in before} == before, "an original changed"
        originals = set(before.values())
        copies = read_tree(dest) if dest.exists() else {}
        assert all(content in originals for content in copies.values()), "a partial copy"


def assert_undone(before: dict[str, bytes], library: Path, dest: Path, read_tree):
    """catsort undo --all puts back every byte and name (when the run left a journal)."""
    journals = list((dest / ".catsort").glob("journal-*.jsonl"))
    if journals:
        undone = undo_all(dest)
        assert undone.exit_code == 0, undone.output
    assert read_tree(library) == before
    if dest != library and dest.exists():
        assert read_tree(dest) == {}


def check_failed_run(result, faults: Faults, step: str) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    # The lock's record of its owner is a courtesy: the lock holds without it.
    courtesy = step in ("write", "fsync") and all(p.endswith("lock") for p in faults.failed)
    assert result.exit_code == (0 if courtesy else 1), result.output


@pytest.mark.parametrize("action", ["--move", "--copy"])
@pytest.mark.parametrize("step", STEPS)
def test_each_write_of_a_sorting_run_can_fail(
    action, step, template, tmp_path, tiny_model, read_tree, monkeypatch
):
    faults = Faults(monkeypatch)
    before = read_tree(template)

    def run(n: int):
        library = fresh(template, tmp_path, n)
        dest = library if action == "--move" else library.parent / "Sorted"
        csv = library.parent / "results.csv"
        return library, dest, classify(tiny_model, library, action, "--dest", dest, "--csv", csv)

    *_, clean = run(0)
    assert clean.exit_code == 0, clean.output
    count = faults.calls[step]
    assert count > 0, f"no {step} step in a run"
    for n in range(1, count + 1):
        faults.fail(step, n)
        library, dest, result = run(n)
        check_failed_run(result, faults, step)
        assert_whole(before, library, dest, action, read_tree)
        faults.clear()  # nothing fails from here: undo on a disk with room again
        assert_undone(before, library, dest, read_tree)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES])
def test_a_journal_that_cannot_be_written_stops_the_run_with_its_summary(
    code, template, tmp_path, tiny_model, read_tree, monkeypatch
):
    library = fresh(template, tmp_path, 0)
    before = read_tree(library)
    # Its writes: the header, the cat's group begun, its two members done, the dog begun.
    faults = Faults(monkeypatch).fail("write", 5, code, where="journal-")
    result = classify(tiny_model, library, "--move")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    reason = os.strerror(code) if code != errno.EACCES else "permission denied"
    stop = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(stop) == 1, result.stderr
    assert f"cannot write the journal ({reason}); the run stopped there." in stop[0]
    assert "catsort classify" in result.stderr, "the summary is still shown"
    assert "or put back what it did with catsort undo" in result.stderr
    assert faults.failed and faults.failed[0].endswith(".jsonl")
    assert_whole(before, library, library, "--move", read_tree)
    moved = [name for name in read_tree(library) if name.startswith(LABELS)]
    assert moved, "what came before the failure stays sorted"
    faults.clear()
    again = classify(tiny_model, library, "--move")  # room again: the same command finishes
    assert again.exit_code == 0, again.output
    assert_undone(before, library, library, read_tree)


def test_a_full_disk_stops_copying_at_the_first_photo_that_does_not_fit(
    template, tmp_path, tiny_model, read_tree, monkeypatch
):
    library = fresh(template, tmp_path, 0)
    before = read_tree(library)
    dest = tmp_path / "Sorted"
    faults = Faults(monkeypatch).fail("write", 1, where="Sorted/dog")
    result = classify(tiny_model, library, "--copy", "--dest", dest)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("error ")] == [
        f"error {library / '2020' / 'rex.png'}: cannot copy to "
        f"{dest / 'dog' / '2020' / 'rex.png'} (No space left on device)"
    ]
    stop = [line for line in lines if line.startswith("Error:")]
    assert len(stop) == 1 and stop[0].endswith("(No space left on device); the run stopped there.")
    assert len(faults.failed) == 1, "nothing more was tried once the disk was full"
    assert_whole(before, library, dest, "--copy", read_tree)
    assert_undone(before, library, dest, read_tree)


def test_undo_on_a_full_disk_puts_back_what_it_can_and_says_so(
    template, tmp_path, tiny_model, read_tree, monkeypatch
):
    library = fresh(template, tmp_path, 0)
    before = read_tree(library)
    dest = tmp_path / "Sorted"
    assert classify(tiny_model, library, "--copy", "--dest", dest, "--tag").exit_code == 0
    faults = Faults(monkeypatch).fail("write", 1, where="journal-")
    result = undo_all(dest)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "removed 4 copies" in result.stderr, "it put back what it could"
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "cannot write the journal (No space left on device)" in error
    assert "the same undo again finds it back and records it" in result.stderr
    faults.clear()
    again = undo_all(dest)
    assert again.exit_code == 0, again.output
    assert read_tree(library) == before and read_tree(dest) == {}


@pytest.mark.parametrize("step", FILE_STEPS)
def test_each_write_of_an_undo_can_fail(
    step, template, tmp_path, tiny_model, read_tree, monkeypatch
):
    before = read_tree(template)
    faults = Faults(monkeypatch)

    def sorted_library(n: int) -> Path:
        faults.clear()
        library = fresh(template, tmp_path, n)
        assert classify(tiny_model, library, "--move", "--tag").exit_code == 0
        faults.clear()
        return library

    library = sorted_library(0)
    assert undo_all(library).exit_code == 0
    count = faults.calls[step]
    for n in range(1, count + 1):
        library = sorted_library(n)
        faults.fail(step, n)
        result = undo_all(library)
        assert "Traceback" not in result.output, result.output
        assert result.exit_code in (0, 1), result.output
        assert temporary_files(library) == [], "a partial file was left"
        faults.clear()  # room again: the same undo puts back what is left, exactly
        again = undo_all(library)
        assert again.exit_code == 0, again.output
        assert read_tree(library) == before


@pytest.mark.parametrize("step", [*FILE_STEPS, "cache"])
def test_each_write_of_a_tag_run_can_fail(
    step, template, tmp_path, tiny_model, read_tree, monkeypatch
):
    from catsort.tagging.xmp import parse

    before = read_tree(template)
    faults = Faults(monkeypatch)
    clean = classify(tiny_model, fresh(template, tmp_path, 0), "--tag")
    assert clean.exit_code == 0, clean.output
    for n in range(1, faults.calls[step] + 1):
        library = fresh(template, tmp_path, n)
        faults.fail(step, n)
        result = classify(tiny_model, library, "--tag")
        check_failed_run(result, faults, step)
        assert temporary_files(library) == [], "a half-written sidecar was left"
        after = read_tree(library)
        assert {name: after[name] for name in before} == before, "a photo changed"
        for name in set(after) - set(before):  # new sidecars: whole, or not there
            assert name.endswith(".xmp") and parse(after[name]) is not None, name
        faults.clear()
        assert_undone(before, library, library, read_tree)


def test_a_report_page_that_cannot_be_written_is_one_line_and_no_file(
    photos, tiny_model, tmp_path, monkeypatch
):
    results = tmp_path / "results.csv"
    assert classify(tiny_model, photos, "--csv", results).exit_code == 0
    Faults(monkeypatch).fail("write", 1, where="report")
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(results), "--html", str(page)])
    assert result.exit_code == 1, result.output
    assert f"Error: {page}: cannot write the HTML report (No space left on device)" in (
        result.stderr
    )
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "results.csv"]


# --- a real disk that fills up ------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (CI runs as root); the test is skipped where one cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc})")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False, timeout=30)


def fill(disk: Path) -> Path:
    """Fill what is left of ``disk`` with one file; return it (unlink it to make room)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def big_library(tmp_path) -> Path:
    """About 4.5 MB of photos the tiny model tells apart: more than the small disk holds."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "Photos"
    for i in range(24):
        color, folder = (RED, "2019") if i % 2 == 0 else (BLUE, "2020")
        noise = rng.integers(-20, 20, size=(250, 250, 3))
        pixels = np.clip(np.array(color) + noise, 0, 255).astype(np.uint8)
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / folder / f"IMG_{i:04d}.png")
    return root


@pytest.mark.parametrize("action", ["--copy", "--move"])
def test_sorting_onto_a_disk_that_fills_up(small_disk, big_library, tiny_model, read_tree, action):
    before = read_tree(big_library)
    dest = small_disk / "Sorted"
    result = classify(tiny_model, big_library, action, "--dest", dest, "--csv", "-")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    verb = action[2:]  # a move to another file system copies, then removes the original
    [stop] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f": cannot {verb} to {dest}" in stop
    assert stop.endswith("(No space left on device); the run stopped there.")
    assert "catsort classify" in result.stderr and "put back what it did with catsort undo" in (
        result.stderr
    )
    placed = read_tree(dest)
    assert placed, "what fitted was placed"
    if action == "--copy":
        assert_whole(before, big_library, dest, action, read_tree)
    else:  # each photo once: in its old place, or whole in its new one
        everything = [*read_tree(big_library).values(), *placed.values()]
        assert Counter(everything) == Counter(before.values())
    assert temporary_files(dest) == []
    # Undo on the full disk: removing copies frees room as it goes; moving back needs none.
    undone = undo_all(dest)
    assert undone.exit_code == 0, undone.output
    assert read_tree(dest) == {} and read_tree(big_library) == before


def test_sorting_a_library_on_a_full_disk(small_disk, make_photo, tiny_model, read_tree):
    library = small_disk / "Photos"
    for i in range(6):
        make_photo(library / "2019" / f"IMG_{i}.png", RED if i % 2 else BLUE)
    filler = fill(small_disk)
    before = read_tree(library)
    result = classify(tiny_model, library, "--move", "--tag")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot write the journal (No space left on device)" in errors[0]
    assert read_tree(library) == before, "nothing moved without its journal"
    filler.unlink()
    again = classify(tiny_model, library, "--move", "--tag")
    assert again.exit_code == 0, again.output
    assert_undone(before, library, library, read_tree)


# --- a review's writes: its decisions, the corrected CSV, the export ----------------------------


@pytest.fixture(scope="module")
def model(tiny_model):
    from catsort.model import load_model

    return load_model(tiny_model, threads=1)


def a_review(
    library: Path, model, opened: Callable[[], object] = lambda: None
) -> tuple[list[str], list[str]]:
    """Review a sorted library as a person would: the cat is a dog, the uncertain photo a cat,
    that last one taken back. Return what the page said of each photo (its messages) and what
    the review's summary says could not be written; an error opening it is a message too.
    ``opened`` is called once the review is open, before the first decision."""

    messages: list[str] = []
    try:
        with catsort.open_review(library, model) as review:
            opened()
            ids = {item.shown: item.id for item in review.items}
            for shown, label in (("cat/2019/kitty.jpg", "dog"), ("blur.png", "cat")):
                messages += [
                    item.message for item in review.decide([ids[shown]], label) if item.message
                ]
            messages += [item.message for item in review.undo() if item.message]
    except catsort.CatsortError as exc:  # its journal, or its lock, could not be made
        return [str(exc)], []
    return messages, review.summary().problems


def photo_contents(library: Path, read_tree) -> Counter:
    """Each file's bytes but the sidecars' (which a decision rewrites): every photo, once."""
    return Counter(data for name, data in read_tree(library).items() if not name.endswith(".xmp"))


@pytest.mark.parametrize("step", [*FILE_STEPS, "cache"])
def test_each_write_of_a_review_can_fail(
    step, template, tmp_path, tiny_model, model, read_tree, monkeypatch
):
    before = read_tree(template)
    faults = Faults(monkeypatch)

    def sorted_library(n: int) -> Path:
        faults.clear()
        library = fresh(template, tmp_path, n)
        assert classify(tiny_model, library, "--move", "--tag").exit_code == 0
        faults.clear()
        return library

    library = sorted_library(0)
    sorted_photos = photo_contents(library, read_tree)
    assert a_review(library, model) == ([], [])
    assert (library / "dog" / "2019" / "kitty.jpg").is_file(), "the review moved the cat"
    count = faults.calls[step]
    assert count > 0, f"no {step} step in a review"
    for n in range(1, count + 1):
        library = sorted_library(n)
        faults.fail(step, n)
        messages, problems = a_review(library, model)
        said = messages + problems
        assert all("\n" not in line and "Traceback" not in line for line in said), said
        if not all(path.endswith("lock") for path in faults.failed):  # the lock's courtesy
            assert said, f"the failed {step} #{n} ({faults.failed}) was not said"
            assert any(
                f"({os.strerror(errno.ENOSPC)}" in line or "disk is full" in line for line in said
            ), said
        assert temporary_files(library) == [], "a half-written file was left"
        assert photo_contents(library, read_tree) == sorted_photos, "a photo lost or doubled"
        faults.clear()  # room again: catsort undo puts back the run and the review, exactly
        assert_undone(before, library, library, read_tree)


@pytest.mark.parametrize("step", [*FILE_STEPS, "cache"])
def test_each_write_of_a_csv_review_can_fail(
    step, photos, tmp_path, tiny_model, model, read_tree, monkeypatch
):

    results = tmp_path / "results.csv"
    assert classify(tiny_model, photos, "--csv", results).exit_code == 0
    before = read_tree(photos)
    faults = Faults(monkeypatch)
    reviewed = tmp_path / "results.reviewed.csv"

    def review() -> list[str]:
        said: list[str] = []
        try:
            with catsort.open_review(results, model) as opened:
                ids = {Path(item.shown).name: item.id for item in opened.items}
                for name, label in (("blur.png", "dog"), ("kitty.jpg", "other")):
                    said += [i.message for i in opened.decide([ids[name]], label) if i.message]
            return said + opened.summary().problems
        except catsort.CatsortError as exc:  # its lock could not be made
            return [*said, str(exc)]

    assert review() == []
    count = faults.calls[step]
    assert count > 0, f"no {step} step in a CSV review"
    for n in range(1, count + 1):
        reviewed.unlink(missing_ok=True)
        faults.fail(step, n)
        said = review()
        faults.clear()
        assert all("\n" not in line and "Traceback" not in line for line in said), said
        if not all(path.endswith("lock") for path in faults.failed):
            assert any("No space left" in line or "disk is full" in line for line in said), said
        assert read_tree(photos) == before, "a CSV review moves nothing"
        assert temporary_files(tmp_path) == [], "a half-written file was left"
        if reviewed.exists():  # all or nothing: every row, with who decided it
            rows = list(csv.DictReader(reviewed.open()))
            assert len(rows) == 4 and all(row["decided_by"] for row in rows), rows


def test_an_export_onto_a_disk_that_fills_up_stops_there(
    small_disk, big_library, tiny_model, read_tree
):
    runner.invoke(app, ["classify", "--model", str(tiny_model), str(big_library), "--move"])
    before = read_tree(big_library)
    out = small_disk / "mine"
    cats = sorted((big_library / "cat").rglob("*.png"))
    from catsort.model import load_model

    with catsort.open_review(big_library, load_model(tiny_model, threads=1)) as review:
        ids = {item.path: item.id for item in review.items}
        review.decide([ids[path] for path in (big_library / "dog").rglob("*.png")], "dog")
        review.decide([ids[path] for path in cats], "cat")
    result = runner.invoke(
        app, ["review", "--model", str(tiny_model), str(big_library), "--export", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [stop] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"{out}" in stop and "(No space left on device); the export stopped there" in stop
    assert read_tree(big_library) == before, "an export changes no photo"
    assert temporary_files(small_disk) == [], "a half-written copy was left"
    written = read_tree(out)
    assert written and len(written) < len(before), "what fitted was copied"
    assert set(written.values()) <= set(before.values()), "each copy whole"


def test_an_export_whose_links_cannot_be_made_on_a_full_disk_says_so(
    library_for_export, tiny_model, tmp_path, monkeypatch
):
    out = tmp_path / "mine"
    faults = Faults(monkeypatch).fail("rename", 1, where="mine")  # no room for a new name
    result = runner.invoke(
        app, ["review", "--model", str(tiny_model), str(library_for_export), "--export", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [stop] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert stop.startswith(f"Error: {out / 'cat'}") and "(No space left on device)" in stop
    assert "no photos a person decided" not in result.stderr
    assert list(out.rglob("*.png")) == []
    faults.clear()  # room again: the same export writes them
    again = runner.invoke(
        app, ["review", "--model", str(tiny_model), str(library_for_export), "--export", str(out)]
    )
    assert again.exit_code == 0, again.output
    assert len(list(out.rglob("*.png"))) == 1


@pytest.fixture
def library_for_export(photos, tiny_model, model) -> Path:
    """photos/ sorted with --move, blur.png decided a cat in a review."""

    classify(tiny_model, photos, "--move")
    with catsort.open_review(photos, model) as review:
        review.decide([item.id for item in review.items if item.shown == "blur.png"], "cat")
    return photos


def test_the_page_says_a_corrected_csv_it_could_not_write(
    photos, tiny_model, model, tmp_path, monkeypatch
):
    from starlette.testclient import TestClient

    from catsort.review.server import make_app

    results = tmp_path / "results.csv"
    assert classify(tiny_model, photos, "--csv", results).exit_code == 0
    reviewed = tmp_path / "results.reviewed.csv"
    faults = Faults(monkeypatch).fail("rename", 1, where="results.reviewed")
    with catsort.open_review(results, model) as review:
        client = TestClient(make_app(review, "token"), base_url="http://127.0.0.1:8765")
        [blur] = [item.id for item in review.items if item.shown.endswith("blur.png")]
        answer = client.post(
            "/api/decide",
            json={"ids": [blur], "label": "dog"},
            headers={"X-Catsort-Token": "token"},
        )
        assert answer.status_code == 200, answer.text  # decided: the label stands
        assert answer.json()["items"][0]["decided"] == "dog"
        assert answer.json()["warning"] == (
            f"{reviewed}: cannot write the corrected CSV (No space left on device); it lacks "
            "the latest decisions"
        )
        assert not reviewed.exists() and temporary_files(tmp_path) == []
        faults.clear()  # room again: the next decision writes them all
        [kitty] = [item.id for item in review.items if item.shown.endswith("kitty.jpg")]
        again = client.post(
            "/api/decide",
            json={"ids": [kitty], "label": "cat"},
            headers={"X-Catsort-Token": "token"},
        )
        assert again.json()["warning"] is None
    rows = {Path(row["path"]).name: row for row in csv.DictReader(reviewed.open())}
    assert (rows["blur.png"]["label"], rows["blur.png"]["decided_by"]) == ("dog", "person")
    assert review.summary().problems == []


def test_catsort_review_ends_with_what_it_could_not_write_and_exit_1(
    photos, tiny_model, tmp_path, monkeypatch
):
    """The command line: a review whose results cache fails says so when it ends, exit 1."""

    results = tmp_path / "results.csv"
    assert classify(tiny_model, photos, "--csv", results).exit_code == 0
    Faults(monkeypatch).fail("cache", 1)

    def decide_one(review, **_: object) -> None:  # a person decides one photo, then Ctrl-C
        review.decide([review.items[0].id], "dog")
        raise KeyboardInterrupt

    # No browser in a CliRunner: the page's server is replaced by a person deciding through
    # the same Review the page calls.
    monkeypatch.setattr(catsort.api, "serve_review", decide_one)
    result = runner.invoke(app, ["review", "--model", str(tiny_model), str(results)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors and all("results cache" in line for line in errors), result.stderr
    assert "Decided 1 photo:" in result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1 and "not remembered by later runs" in warned[0], result.stderr
    assert result.stderr.index("Warning:") < result.stderr.index("Decided 1 photo:")


@pytest.mark.parametrize("full", ["before it opens", "once it is open"])
def test_a_review_on_a_full_disk(full, small_disk, template, tiny_model, model, read_tree):
    before = read_tree(template)
    library = Path(shutil.copytree(template, small_disk / "Photos"))
    assert classify(tiny_model, library, "--move", "--tag").exit_code == 0
    sorted_photos = photo_contents(library, read_tree)
    filler = small_disk / "filler"
    if full == "before it opens":  # its journal cannot be begun: one line, nothing done
        fill(small_disk)
        messages, problems = a_review(library, model)
    else:  # its journal's lines still fit the page it has; a sidecar's backup, the cache not
        messages, problems = a_review(library, model, lambda: fill(small_disk))
    said = messages + problems
    assert said, "the full disk was said"
    assert all("\n" not in line and "Traceback" not in line for line in said), said
    assert all("No space left on device" in line or "disk is full" in line for line in said), said
    assert photo_contents(library, read_tree) == sorted_photos
    assert temporary_files(small_disk) == []
    filler.unlink()  # room again
    if full == "before it opens":  # the same review now goes through
        assert a_review(library, model) == ([], [])
        assert (library / "dog" / "2019" / "kitty.jpg").is_file()
    # Renames need no room: the cat went to dog/ with its sidecar as it was (the page said so).
    assert_undone(before, library, library, read_tree)


def test_a_decision_the_cache_cannot_remember_says_so_on_its_photo(
    template, tmp_path, tiny_model, model, monkeypatch
):
    library = fresh(template, tmp_path, 0)
    assert classify(tiny_model, library, "--move").exit_code == 0
    faults = Faults(monkeypatch)
    with catsort.open_review(library, model) as review:
        faults.fail("cache", 1)  # the disk fills up once the review is open
        [item] = review.decide(
            [item.id for item in review.items if item.shown == "blur.png"], "cat"
        )
    assert item.decided == "cat" and (library / "cat" / "blur.png").is_file(), "acted on"
    cache = library / ".catsort" / "cache.sqlite3"
    assert item.message == (
        f"{cache}: results cache failed (database or disk is full); the label is not "
        "remembered for later runs"
    )
    assert review.summary().problems == [
        f"{cache}: results cache failed (database or disk is full); going on without it"
    ]
