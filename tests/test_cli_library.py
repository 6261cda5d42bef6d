"""classify on a real library: what it enters, what it leaves alone, what it never moves."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from conftest import BLUE, GREY, RED
from rawfile import write_dng
from typer.testing import CliRunner

from catsort.cli import app

runner = CliRunner()


def classify(model: Path, *args: object):
    return runner.invoke(app, ["classify", "--model", str(model), *map(str, args)])


def rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}


@pytest.fixture
def library(tmp_path, make_photo, make_files) -> Path:
    """A Pictures folder as a photographer has one, and a second disk it links to."""
    pictures = tmp_path / "Pictures"
    make_photo(pictures / "2019" / "07" / "kitty.jpg", RED)
    make_photo(pictures / "2019" / "08" / "rex.png", BLUE)
    make_photo(pictures / "Photos Library.photoslibrary" / "originals" / "0" / "A1.jpeg", RED)
    make_photo(pictures / "2019" / "@eaDir" / "kitty.jpg" / "SYNOPHOTO_THUMB_XL.jpg", BLUE)
    make_photo(pictures / "Lightroom" / "Catalog Previews.lrdata" / "0" / "p.jpg", RED)
    make_photo(pictures / "#recycle" / "old.jpg", RED)
    make_photo(pictures / "WhatsApp" / "cache" / "t.jpg", RED)
    (pictures / "WhatsApp" / "cache" / ".nomedia").write_bytes(b"")
    make_photo(pictures / "Exports" / "web.jpg", RED)
    write_dng(pictures / "raw" / "IMG_1000.DNG", RED)  # a RAW on its own
    make_files(pictures, {"2019/07/menu.pdf": b"m", "2019/08/menu.pdf": b"m", "notes.txt": b"n"})
    make_photo(tmp_path / "disk2" / "photos" / "far.jpg", RED)
    (pictures / "links").mkdir()
    (pictures / "links" / "disk2").symlink_to(tmp_path / "disk2" / "photos", True)
    (pictures / "linked.jpg").symlink_to(tmp_path / "disk2" / "photos" / "far.jpg")
    return pictures


def test_a_move_leaves_libraries_links_and_the_other_disk_alone(
    library, tiny_model, tmp_path, read_tree
):
    disk2 = read_tree(tmp_path / "disk2")
    before = read_tree(library)
    untouched = {
        name: content
        for name, content in before.items()
        if name.startswith(("Photos Library", "2019/@eaDir", "Lightroom", "#recycle", "WhatsApp"))
    }
    results = tmp_path / "results.csv"
    result = classify(tiny_model, library, "--move", "--exclude", "Exports/", "--csv", results)
    assert result.exit_code == 0, result.output
    after = read_tree(library)
    assert {name for name in after if name.startswith(("cat/", "dog/"))} == {
        "cat/2019/07/kitty.jpg",
        "cat/raw/IMG_1000.DNG",
        "dog/2019/08/rex.png",
    }
    assert {name: after[name] for name in untouched} == untouched
    assert after["Exports/web.jpg"] == before["Exports/web.jpg"]
    assert after["linked.jpg"] == before["linked.jpg"], "the link stays a link, where it was"
    assert read_tree(tmp_path / "disk2") == disk2
    table = rows(results)
    assert table["IMG_1000.DNG"]["label"] == "cat"
    assert table["linked.jpg"]["label"] == "cat" and table["linked.jpg"]["destination"] == ""
    assert "far.jpg" not in table, "the folder link is not followed"
    output = " ".join(result.output.split())
    for line in [
        "skipped: Photos Library.photoslibrary (an application's library)",
        "skipped: @eaDir (a NAS's thumbnails and metadata)",
        "skipped: Catalog Previews.lrdata (Lightroom's previews and catalog data)",
        "skipped: #recycle (a recycle bin or trash)",
        "skipped: cache (a folder with a .nomedia file",
        "skipped: disk2 (a link to a folder; --follow-links walks it)",
        "skipped: Exports (--exclude Exports/)",
        "not photos, left alone: 2 .pdf, 1 .txt",
        "links, not moved │ 1",
    ]:
        assert line in output
    assert output.count("photoslibrary") == 1, "each skipped library is named once"
    journal = next((library / ".catsort").glob("journal-*.jsonl"))
    assert runner.invoke(app, ["undo", str(journal)]).exit_code == 0
    assert read_tree(library) == before


def test_follow_links_classifies_what_they_lead_to_but_never_moves_it(
    library, tiny_model, tmp_path, read_tree
):
    disk2 = read_tree(tmp_path / "disk2")
    results = tmp_path / "results.csv"
    result = classify(tiny_model, library, "--move", "--follow-links", "--csv", results)
    assert result.exit_code == 0, result.output
    table = rows(results)
    assert table["far.jpg"]["label"] == "cat" and table["far.jpg"]["destination"] == ""
    assert read_tree(tmp_path / "disk2") == disk2
    assert (library / "links" / "disk2").is_symlink()
    assert "links, not moved │ 2" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--tag"], "links, not tagged │ 2"),
        (["--tag", "--move"], "links, not moved │ 2"),
    ],
)
def test_tag_writes_no_sidecar_beside_a_link_or_on_the_disk_it_leads_to(
    library, tiny_model, tmp_path, read_tree, args, line
):
    disk2 = read_tree(tmp_path / "disk2")
    result = classify(tiny_model, library, *args, "--follow-links")
    assert result.exit_code == 0, result.output
    sidecars = sorted(p.name for p in library.rglob("*.xmp"))
    assert sidecars == ["IMG_1000.xmp", "kitty.xmp", "rex.xmp", "web.xmp"], "none for linked.jpg"
    assert read_tree(tmp_path / "disk2") == disk2, "nothing written outside the folder given"
    assert line in " ".join(result.output.split())


def test_a_link_to_a_photo_in_the_library_is_left_out_and_named_once_its_photo_moves(
    tmp_path, tiny_model, make_photo, read_tree
):
    library = tmp_path / "Pictures"
    for n in range(12):  # enough that the photo moves long before the link's turn
        make_photo(library / "2019" / f"kitty{n:02}.jpg", RED)
    (library / "favourites").mkdir()
    link = library / "favourites" / "best.jpg"
    link.symlink_to(Path("..") / "2019" / "kitty00.jpg")
    before = read_tree(library)
    results = tmp_path / "results.csv"
    result = classify(tiny_model, library, "--move", "--csv", results)
    assert result.exit_code == 0, result.output  # no error row for the link
    table = rows(results)
    assert "best.jpg" not in table and len(table) == 12, "each photo classified once"
    assert link.is_symlink() and not link.exists()
    output = " ".join(result.output.split())
    assert "links to photos found under their own name too, left alone: 1" in output
    note = (
        f"{link}: a link to {library / '2019' / 'kitty00.jpg'}, which catsort moved to "
        f"{library / 'cat' / '2019' / 'kitty00.jpg'}; it points to nothing now"
    )
    assert note in output
    # Every later run, sorting or not, says the same of it: a note, not an error.
    for args in (["--move"], ["--csv", results], ["--move", "--dry-run"]):
        again = classify(tiny_model, library, *args)
        assert again.exit_code == 0, again.output
        assert note in " ".join(again.output.split()) and "broken link" not in again.output
    assert "best.jpg" not in rows(results)
    journal = next((library / ".catsort").glob("journal-*.jsonl"))
    assert runner.invoke(app, ["undo", str(journal)]).exit_code == 0
    assert read_tree(library) == before and link.exists()


def test_copy_copies_what_a_linked_photo_points_to(library, tiny_model, tmp_path):
    sorted_ = tmp_path / "Sorted"
    result = classify(tiny_model, library, "--copy", "--dest", sorted_)
    assert result.exit_code == 0, result.output
    copy = sorted_ / "cat" / "linked.jpg"
    assert not copy.is_symlink()
    assert copy.read_bytes() == (tmp_path / "disk2" / "photos" / "far.jpg").read_bytes()


def test_the_dry_run_plan_leaves_out_libraries_and_links(library, tiny_model):
    result = classify(tiny_model, library, "--move", "--dry-run")
    assert result.exit_code == 0, result.output
    plan = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert sorted(Path(source).relative_to(library).as_posix() for _, source, _ in plan) == [
        "2019/07/kitty.jpg",
        "2019/08/rex.png",
        "Exports/web.jpg",
        "raw/IMG_1000.DNG",
    ]


@pytest.mark.parametrize("action", ["--move", "--copy"])
def test_sorting_a_library_given_by_name_is_refused_with_one_line(
    library, tiny_model, read_tree, action
):
    before = read_tree(library)
    inside = library / "Photos Library.photoslibrary" / "originals"
    for given in (library / "Photos Library.photoslibrary", inside, inside / "0" / "A1.jpeg"):
        result = classify(tiny_model, given, action)
        assert result.exit_code == 2
        assert "an application's library; catsort never moves or copies" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert read_tree(library) == before


def test_a_destination_inside_a_library_is_refused(library, tiny_model, read_tree):
    before = read_tree(library)
    dest = library / "Photos Library.photoslibrary" / "sorted"
    result = classify(tiny_model, library / "2019", "--copy", "--dest", dest)
    assert result.exit_code == 2
    assert "an application's library); choose a folder outside it" in result.output
    assert read_tree(library) == before


def test_a_library_given_by_name_can_still_be_classified_into_a_csv(library, tiny_model):
    result = classify(tiny_model, library / "Photos Library.photoslibrary", "--csv", "-")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [Path(row["path"]).name for row in table] == ["A1.jpeg"]


def test_a_raw_file_without_a_preview_is_an_error_row_and_stays(tmp_path, tiny_model):
    photos = tmp_path / "photos"
    write_dng(photos / "IMG_2000.NEF", RED, preview=False)
    result = classify(tiny_model, photos, "--move", "--csv", tmp_path / "r.csv")
    assert result.exit_code == 1
    assert "IMG_2000.NEF: RAW file without an embedded preview" in " ".join(result.output.split())
    assert rows(tmp_path / "r.csv")["IMG_2000.NEF"]["status"] == "error"
    assert (photos / "IMG_2000.NEF").exists()


def test_exclude_keeps_matching_companions_where_they_are(tiny_model, make_photo, tmp_path):
    pictures = tmp_path / "pictures"
    make_photo(pictures / "2020" / "IMG_1.jpg", RED)
    (pictures / "2020" / "IMG_1.AAE").write_text("edits")
    (pictures / "2020" / "IMG_1.MOV").write_text("clip")
    result = classify(tiny_model, pictures, "--move", "--exclude", "*.AAE", "-q")
    assert result.exit_code == 0, result.output
    assert (pictures / "cat" / "2020" / "IMG_1.jpg").exists()
    assert (pictures / "cat" / "2020" / "IMG_1.MOV").exists()
    assert (pictures / "2020" / "IMG_1.AAE").read_text() == "edits", "excluded: left alone"


def test_exclude_of_the_jpegs_sorts_the_raws_on_their_own(tiny_model, make_photo, tmp_path):
    pictures = tmp_path / "pictures"
    make_photo(pictures / "IMG_2.JPG", RED)
    write_dng(pictures / "IMG_2.DNG", RED)
    result = classify(tiny_model, pictures, "--move", "--exclude", "*.JPG", "-q")
    assert result.exit_code == 0, result.output
    assert (pictures / "cat" / "IMG_2.DNG").exists(), "its JPEG left out, the RAW is the photo"
    assert (pictures / "IMG_2.JPG").exists()


def test_companions_stay_with_their_photo_not_among_the_files_left_alone(
    tmp_path, tiny_model, make_photo, make_files
):
    library = tmp_path / "Photos"
    make_photo(library / "blur.jpg", GREY)  # uncertain: it stays, with its companions
    make_photo(library / "kitty.jpg", RED)  # a cat: it moves, with its own
    make_files(
        library,
        {"blur.mov": b"v", "blur.xmp": b"", "kitty.aae": b"e", "notes.txt": b"n", "x.psd": b"m"},
    )
    for args in (["--move"], ["--csv", tmp_path / "rows.csv"]):
        result = classify(tiny_model, library, *args)
        assert result.exit_code == 0, result.output
        assert "not photos, left alone: 1 .psd, 1 .txt" in result.stderr, result.stderr


def test_a_folder_named_like_a_photo_is_no_error(tmp_path, tiny_model, make_photo):
    make_photo(tmp_path / "Photos" / "x.jpg" / "kitty.png", RED)
    result = classify(tiny_model, tmp_path / "Photos", "--csv", "-")
    assert result.exit_code == 0, result.output
    assert [row["path"] for row in csv.DictReader(io.StringIO(result.stdout))] == [
        str(tmp_path / "Photos" / "x.jpg" / "kitty.png")
    ]
    assert "is a folder" not in result.stderr


@pytest.mark.parametrize("action", ["--move", "--copy"])
def test_a_destination_inside_the_folders_given_is_refused(library, tiny_model, read_tree, action):
    before = read_tree(library)
    result = classify(tiny_model, library, action, "--dest", library / "2019" / "backup")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --dest {library / '2019' / 'backup'}: is inside {library}, a folder given, so "
        "the sorted photos would be among those being sorted; choose a folder outside it"
    )
    assert read_tree(library) == before


def test_another_runs_destination_inside_the_library_is_never_walked(
    tmp_path, tiny_model, make_photo, read_tree
):
    library = tmp_path / "Photos"
    make_photo(library / "2019" / "kitty.jpg", RED)
    # Copies an earlier catsort put inside the library (before it refused to).
    make_photo(library / "2019" / "backup" / "cat" / "2019" / "kitty.jpg", RED)
    (library / "2019" / "backup" / ".catsort").mkdir()
    for args in (["--csv", "-"], ["--move", "--dry-run"]):
        result = classify(tiny_model, library, *args)
        assert result.exit_code == 0, result.output
        assert "backup" not in result.stdout, "its photos are neither counted nor planned"
        assert (
            "skipped: backup (another catsort run's destination, with its .catsort journals)"
            in " ".join(result.stderr.split())
        )


def test_a_dog_folder_of_the_users_own_is_sorted_like_any_folder_and_joined(
    tmp_path, tiny_model, make_photo, read_tree
):
    library = tmp_path / "Photos"
    make_photo(library / "2019" / "kitty.jpg", RED)
    make_photo(library / "2020" / "rex.png", BLUE)
    make_photo(library / "dog" / "mine.png", BLUE, size=(30, 20))  # no catsort run made dog/
    make_photo(library / "dog" / "odd.png", RED, size=(30, 20))  # a cat among the user's dogs
    before = read_tree(library)
    everyone = {str(library / name) for name in before}
    listed = classify(tiny_model, library, "--csv", "-")
    assert {row["path"] for row in csv.DictReader(io.StringIO(listed.stdout))} == everyone
    planned = classify(tiny_model, library, "--move", "--dry-run")
    assert planned.exit_code == 0, planned.output
    plan = [line.split("\t") for line in planned.stdout.splitlines()]
    assert plan == [
        ["cat", str(library / "2019" / "kitty.jpg"), str(library / "cat" / "2019" / "kitty.jpg")],
        ["dog", str(library / "2020" / "rex.png"), str(library / "dog" / "2020" / "rex.png")],
        ["cat", str(library / "dog" / "odd.png"), str(library / "cat" / "odd.png")],
    ]
    note = (
        f"{library / 'dog'}: no catsort run sorted into it, so it is taken as a folder of your own"
    )
    assert note in " ".join(planned.stderr.split())
    for n in range(12):  # enough that dogs are sorted into dog/ long before the walk gets there
        make_photo(library / "2020" / f"more{n:02}.png", BLUE)
    moved = classify(
        tiny_model, library, "--move", "--csv", tmp_path / "rows.csv", "--batch-size", "1"
    )
    assert moved.exit_code == 0, moved.output
    assert note in " ".join(moved.stderr.split())
    after = sorted(name for name in read_tree(library) if "more" not in name)
    assert after == ["cat/2019/kitty.jpg", "cat/odd.png", "dog/2020/rex.png", "dog/mine.png"]
    with open(tmp_path / "rows.csv", newline="", encoding="utf-8") as stream:
        names = [Path(row["path"]).name for row in csv.DictReader(stream)]
    assert len(names) == len(set(names)) == 16, names  # none met again in dog/ once moved there
    journal = next((library / ".catsort").glob("journal-*.jsonl"))
    assert runner.invoke(app, ["undo", str(journal)]).exit_code == 0
    assert {name: data for name, data in read_tree(library).items() if "more" not in name} == before
