"""The one list of folders never entered: names, marker files, and paths inside them."""

from __future__ import annotations

import pytest

from catsort.skiplist import FOLDERS, MARKERS, folder_reason, library_around, marker_reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Photos Library.photoslibrary", "an application's library"),
        ("iPhoto Library", "an application's library"),
        ("Aperture Library.migratedaplibrary", "an application's library"),
        ("Lightroom Catalog Smart Previews.lrdata", "Lightroom's previews and catalog data"),
        ("CaptureOne", "Capture One's previews and settings"),
        (".@__thumb", "a NAS's thumbnails and metadata"),
        ("#Recycle", "a recycle bin or trash"),
        (".Trash-1000", "a recycle bin or trash"),
        ("system volume information", "a system folder"),
    ],
)
def test_folder_names_are_matched_in_any_case(name, reason):
    assert folder_reason(name) == reason
    assert folder_reason(name.upper()) == reason


@pytest.mark.parametrize(
    "name", ["Photos", "2019", "iPhoto", "Library", "Trash", "Recycle", "Cache"]
)
def test_ordinary_folder_names_are_entered(name):
    assert folder_reason(name) is None


def test_every_rule_has_a_reason_to_show():
    assert all(rule.pattern and rule.reason for rule in (*FOLDERS, *MARKERS))


def test_a_folder_is_marked_by_a_nomedia_file_or_a_capture_one_catalog():
    assert marker_reason(["a.jpg", ".nomedia"]) is not None
    assert marker_reason(["Studio.cocatalogdb", "Cache"]) == "an application's library"
    assert marker_reason(["a.jpg", "nomedia.txt"]) is None


def test_library_around_finds_the_library_a_path_is_in_even_through_a_link(tmp_path):
    inside = tmp_path / "Photos Library.photoslibrary" / "originals" / "0"
    inside.mkdir(parents=True)
    (inside / "x.jpg").write_bytes(b"")
    (tmp_path / "shortcut").symlink_to(inside, target_is_directory=True)
    library = (tmp_path / "Photos Library.photoslibrary").resolve()
    assert library_around(inside / "x.jpg") == (library, "an application's library")
    assert library_around(tmp_path / "shortcut") == (library, "an application's library")
    assert library_around(tmp_path) is None


def test_library_around_finds_a_nomedia_folder_given_itself(tmp_path):
    (tmp_path / "thumbs").mkdir()
    (tmp_path / "thumbs" / ".nomedia").write_bytes(b"")
    found = library_around(tmp_path / "thumbs")
    assert found is not None and found[0] == (tmp_path / "thumbs").resolve()
