"""Moving and copying photos: free names, never an overwrite, bytes and times kept."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from catsort import files
from catsort.errors import FAILED, CatsortError
from catsort.sorting import place as sort
from catsort.sorting.place import (
    COPY,
    MOVE,
    Placement,
    copy_file,
    move_file,
    place,
    plan,
    unique_target,
)

OLD = 1_500_000_000  # a modification time well in the past, in seconds


@pytest.mark.parametrize(
    ("name", "existing", "expected"),
    [
        ("x.jpg", [], "x.jpg"),
        ("x.jpg", ["x.jpg"], "x (1).jpg"),
        ("x.jpg", ["x.jpg", "x (1).jpg"], "x (2).jpg"),
        ("README", ["README"], "README (1)"),
        ("my.holiday.photo.jpg", ["my.holiday.photo.jpg"], "my.holiday.photo (1).jpg"),
        ("x (1).jpg", ["x (1).jpg"], "x (2).jpg"),
        ("x (1).jpg", ["x (1).jpg", "x (2).jpg"], "x (3).jpg"),
        ("x (1).jpg", ["x.jpg"], "x (1).jpg"),
    ],
)
def test_unique_target_picks_the_first_free_name(tmp_path, make_files, name, existing, expected):
    make_files(tmp_path, {e: b"taken" for e in existing})
    assert unique_target(tmp_path, name) == tmp_path / expected


def test_unique_target_counts_broken_symlinks_and_reserved_names_as_taken(tmp_path):
    (tmp_path / "x.jpg").symlink_to(tmp_path / "nowhere")
    assert unique_target(tmp_path, "x.jpg", {tmp_path / "x (1).jpg"}) == tmp_path / "x (2).jpg"


def test_a_taken_name_of_255_bytes_gets_a_shortened_free_name(tmp_path, make_files):
    name = "é" * 124 + "cat.jpg"  # 255 bytes in UTF-8, the longest name most file systems take
    make_files(tmp_path, {f"in/{name}": b"new", f"cat/{name}": b"taken"})
    target = place(plan(tmp_path / "in" / name, tmp_path / "cat", MOVE))
    assert len(os.fsencode(target.name)) <= 255
    assert target.name.startswith("é" * 100) and target.name.endswith(" (1).jpg")
    assert target.read_bytes() == b"new" and (tmp_path / "cat" / name).read_bytes() == b"taken"


def test_plan_reserves_names_so_a_dry_run_never_plans_one_target_twice(tmp_path, make_files):
    make_files(tmp_path, {"a/x.jpg": b"1", "b/x.jpg": b"2", "cat/x.jpg": b"0"})
    reserved: set[Path] = set()
    first = plan(tmp_path / "a/x.jpg", tmp_path / "cat", MOVE, reserved)
    second = plan(tmp_path / "b/x.jpg", tmp_path / "cat", MOVE, reserved)
    assert (first.target.name, second.target.name) == ("x (1).jpg", "x (2).jpg")
    assert place(first, dry_run=True) == first.target
    assert not first.target.exists() and (tmp_path / "a/x.jpg").exists()


def test_a_file_already_in_its_label_folder_stays_put(tmp_path, make_files):
    make_files(tmp_path, {"cat/x.jpg": b"1"})
    placement = plan(tmp_path / "cat" / "x.jpg", tmp_path / "cat", MOVE, set())
    assert place(placement) == tmp_path / "cat" / "x.jpg"
    assert os.listdir(tmp_path / "cat") == ["x.jpg"]


@pytest.mark.parametrize("operation", [move_file, copy_file])
def test_a_target_created_after_planning_is_never_overwritten(tmp_path, make_files, operation):
    make_files(tmp_path, {"x.jpg": b"mine"})
    placement = plan(tmp_path / "x.jpg", tmp_path / "cat", MOVE)
    make_files(tmp_path, {"cat/x.jpg": b"someone else's"})  # appears between plan and move
    with pytest.raises(CatsortError, match="already exists") as info:
        operation(placement.source, placement.target)
    assert info.value.kind == FAILED
    assert (tmp_path / "x.jpg").read_bytes() == b"mine"
    assert (tmp_path / "cat" / "x.jpg").read_bytes() == b"someone else's"
    assert sorted(os.listdir(tmp_path / "cat")) == ["x.jpg"], "no temporary file left behind"


@pytest.mark.parametrize("fallback", ["renameat2", "link", "rename"])
def test_every_rename_fallback_refuses_to_overwrite(tmp_path, make_files, monkeypatch, fallback):
    make_files(tmp_path, {"x.jpg": b"mine", "y.jpg": b"theirs", "z.jpg": b"z"})
    if fallback != "renameat2":
        monkeypatch.setattr(files, "_renameat2", None)
    if fallback == "rename":

        def no_links(*args, **kwargs):
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    with pytest.raises(CatsortError, match="already exists"):
        move_file(tmp_path / "x.jpg", tmp_path / "y.jpg")
    move_file(tmp_path / "z.jpg", tmp_path / "sub" / "z.jpg")
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*.jpg")} == {
        "x.jpg": b"mine",
        "y.jpg": b"theirs",
        "z.jpg": b"z",
    }
    assert not (tmp_path / "z.jpg").exists()


def test_a_refused_move_names_both_folders(tmp_path, make_files, monkeypatch):
    # As with a read-only photo folder (root, who runs the tests, may write anywhere).
    make_files(tmp_path, {"in/x.jpg": b"x"})

    def refuse(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(source))

    monkeypatch.setattr(files, "rename_noreplace", refuse)
    with pytest.raises(CatsortError) as info:
        move_file(tmp_path / "in" / "x.jpg", tmp_path / "cat" / "x.jpg")
    assert (
        f"permission denied: {tmp_path / 'in'} and {tmp_path / 'cat'} must both be writable"
        in str(info.value)
    )
    assert (tmp_path / "in" / "x.jpg").read_bytes() == b"x"


def test_move_keeps_bytes_and_modification_time(tmp_path, make_files):
    make_files(tmp_path, {"x.jpg": b"\xff\xd8photo"})
    os.utime(tmp_path / "x.jpg", (OLD, OLD))
    move_file(tmp_path / "x.jpg", tmp_path / "cat" / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()
    assert (tmp_path / "cat" / "x.jpg").read_bytes() == b"\xff\xd8photo"
    assert (tmp_path / "cat" / "x.jpg").stat().st_mtime == OLD


def fake_other_filesystem(monkeypatch):
    """Make renames between different folders fail with EXDEV, as across file systems."""
    real = files.rename_noreplace
    calls = []

    def rename(source, target):
        calls.append((Path(source), Path(target)))
        if Path(source).parent != Path(target).parent:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(source, target)

    monkeypatch.setattr(files, "rename_noreplace", rename)
    return calls


def test_a_move_across_file_systems_copies_checks_and_removes(tmp_path, make_files, monkeypatch):
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one copy chunk
    make_files(tmp_path, {"x.jpg": data})
    os.utime(tmp_path / "x.jpg", (OLD, OLD))
    calls = fake_other_filesystem(monkeypatch)
    move_file(tmp_path / "x.jpg", tmp_path / "cat" / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()
    assert (tmp_path / "cat" / "x.jpg").read_bytes() == data
    assert (tmp_path / "cat" / "x.jpg").stat().st_mtime == OLD
    assert os.listdir(tmp_path / "cat") == ["x.jpg"]
    # The copy went through a hidden temporary name beside the target.
    assert calls[-1][0].name.startswith(files.TEMP_PREFIX)
    assert calls[-1][0].parent == tmp_path / "cat"


def test_a_short_copy_is_refused_and_the_source_kept(tmp_path, make_files, monkeypatch):
    make_files(tmp_path, {"x.jpg": b"0123456789"})
    fake_other_filesystem(monkeypatch)

    real = sort.files.write_all

    def short_write(fd, data):
        real(fd, data[:4])

    monkeypatch.setattr(sort.files, "write_all", short_write)
    with pytest.raises(CatsortError, match="incomplete"):
        move_file(tmp_path / "x.jpg", tmp_path / "cat" / "x.jpg")
    assert (tmp_path / "x.jpg").read_bytes() == b"0123456789"
    assert os.listdir(tmp_path / "cat") == []


def test_a_move_across_file_systems_never_overwrites(tmp_path, make_files, monkeypatch):
    make_files(tmp_path, {"x.jpg": b"mine", "cat/x.jpg": b"theirs"})
    fake_other_filesystem(monkeypatch)
    with pytest.raises(CatsortError, match="already exists"):
        move_file(tmp_path / "x.jpg", tmp_path / "cat" / "x.jpg")
    assert (tmp_path / "x.jpg").read_bytes() == b"mine"
    assert (tmp_path / "cat" / "x.jpg").read_bytes() == b"theirs"
    assert os.listdir(tmp_path / "cat") == ["x.jpg"]


def test_copy_keeps_the_original_and_the_modification_time(tmp_path, make_files):
    make_files(tmp_path, {"x.jpg": b"photo"})
    os.utime(tmp_path / "x.jpg", (OLD, OLD))
    copy_file(tmp_path / "x.jpg", tmp_path / "dog" / "x.jpg")
    assert (tmp_path / "x.jpg").read_bytes() == b"photo"
    assert (tmp_path / "dog" / "x.jpg").read_bytes() == b"photo"
    assert (tmp_path / "dog" / "x.jpg").stat().st_mtime == OLD


def test_a_missing_source_is_a_one_line_error(tmp_path):
    for operation in (move_file, copy_file):
        with pytest.raises(CatsortError, match=r"gone\.jpg: cannot") as info:
            operation(tmp_path / "gone.jpg", tmp_path / "cat" / "gone.jpg")
        assert "\n" not in str(info.value)


def test_place_carries_out_moves_and_copies(tmp_path, make_files):
    make_files(tmp_path, {"a.jpg": b"a", "b.jpg": b"b"})
    place(Placement(tmp_path / "a.jpg", tmp_path / "cat" / "a.jpg", MOVE))
    place(Placement(tmp_path / "b.jpg", tmp_path / "dog" / "b.jpg", COPY))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jpg")) == [
        "b.jpg",
        "cat/a.jpg",
        "dog/b.jpg",
    ]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], ["IMG.JPG", "IMG.CR2", "img.jpg.xmp"]),
        (["IMG.JPG"], ["IMG (1).JPG", "IMG (1).CR2", "IMG (1).jpg.xmp"]),
        (["img.jpg.xmp", "IMG (1).CR2"], ["IMG (2).JPG", "IMG (2).CR2", "IMG (2).jpg.xmp"]),
    ],
)
def test_a_taken_name_of_any_member_gives_the_whole_group_a_new_stem(
    tmp_path, make_files, existing, expected
):
    make_files(tmp_path, {name: b"taken" for name in existing})
    names = ["IMG.JPG", "IMG.CR2", "img.jpg.xmp"]
    assert sort.unique_names(tmp_path, names) == [tmp_path / name for name in expected]


def test_a_group_with_a_long_name_is_shortened_to_fit_beside_its_namesake(tmp_path):
    stem = "p" * 246
    (tmp_path / f"{stem}.jpg").write_bytes(b"taken")
    targets = sort.unique_names(tmp_path, [f"{stem}.jpg", f"{stem}.jpg.xmp"])
    assert all(len(os.fsencode(t.name)) <= 255 for t in targets)
    assert targets[1].name == targets[0].name + ".xmp"


def test_a_group_already_in_its_folder_stays_where_it_is(tmp_path, make_files):
    make_files(tmp_path, {"cat/x.jpg": b"x", "cat/x.xmp": b"s"})
    placements = sort.plan_group(
        tmp_path / "cat" / "x.jpg", [tmp_path / "cat" / "x.xmp"], tmp_path / "cat", MOVE
    )
    assert all(p.source == p.target for p in placements)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_move_of_a_file_outside_the_folders_given_is_refused(
    tmp_path, make_files, read_tree, dry_run
):
    make_files(tmp_path, {"disk2/photos/x.jpg": b"x", "Pictures/y.jpg": b"y"})
    pictures = tmp_path / "Pictures"
    # A folder link swapped in after the walk: the path reads as inside, the file is not.
    (pictures / "links").symlink_to(tmp_path / "disk2" / "photos", target_is_directory=True)
    before = read_tree(tmp_path / "disk2")
    outside = Placement(pictures / "links" / "x.jpg", pictures / "cat" / "x.jpg", MOVE)
    with pytest.raises(CatsortError, match=r"x\.jpg: lies outside the folders given") as info:
        place(outside, dry_run=dry_run, inside=[pictures])
    assert info.value.kind == FAILED and "disk2/photos/x.jpg" in str(info.value)
    assert read_tree(tmp_path / "disk2") == before
    assert not (pictures / "cat").exists()
    inside = Placement(pictures / "y.jpg", pictures / "cat" / "y.jpg", MOVE)
    assert place(inside, dry_run=dry_run, inside=[pictures]) == pictures / "cat" / "y.jpg"
    copy = Placement(pictures / "links" / "x.jpg", pictures / "cat" / "x.jpg", COPY)
    assert place(copy, dry_run=dry_run, inside=[pictures]) == pictures / "cat" / "x.jpg"
    assert read_tree(tmp_path / "disk2") == before, "a copy never changes its source"


def test_a_folder_named_like_the_start_of_another_is_not_inside_it(tmp_path, make_files):
    make_files(tmp_path, {"Pictures2/x.jpg": b"x"})
    placement = Placement(tmp_path / "Pictures2" / "x.jpg", tmp_path / "cat" / "x.jpg", MOVE)
    with pytest.raises(CatsortError, match="outside the folders given"):
        place(placement, inside=[tmp_path / "Pictures"])
