"""Sidecars on disk: their names, atomic journaled writes, undo byte for byte, a real reader."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_xmp import CAT, DIGIKAM, DOG, LIGHTROOM

from catsort.errors import CatsortError
from catsort.files import TEMP_PREFIX
from catsort.sorting.journal import Journal, recover, undo
from catsort.tagging import xmp
from catsort.tagging.sidecar import AUTO, EXT_XMP, XMP, find_sidecar, sidecar_path
from catsort.tagging.tagger import CREATED, MERGED, UNCHANGED, write_tag


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "lib" / "IMG_0001.JPG"
    path.parent.mkdir()
    path.write_bytes(b"a photo, never touched")
    return path


def test_sidecar_names_adobe_darktable_and_the_one_a_photo_has(photo):
    folder = photo.parent
    assert sidecar_path(photo, XMP) == folder / "IMG_0001.xmp"
    assert sidecar_path(photo, EXT_XMP) == folder / "IMG_0001.JPG.xmp"
    assert sidecar_path(photo, AUTO) == folder / "IMG_0001.xmp"  # none yet: Adobe's name
    (folder / "img_0001.jpg.XMP").write_bytes(DIGIKAM)  # darktable's name, other letter case
    assert sidecar_path(photo, AUTO) == folder / "img_0001.jpg.XMP"
    assert find_sidecar(photo) == folder / "img_0001.jpg.XMP"
    # A dry run of a move: the name the photo's sidecar has now decides the one it will have.
    assert sidecar_path(folder / "cat" / "IMG (1).JPG", AUTO, origin=photo) == (
        folder / "cat" / "IMG (1).JPG.xmp"
    )


def test_a_new_sidecar_is_created_beside_the_photo_and_journaled(photo, tmp_path):
    with Journal.create(photo.parent) as journal:
        written = write_tag(photo, CAT, AUTO, journal)
    assert written.action == CREATED and written.path == photo.with_suffix(".xmp")
    assert xmp.keywords(xmp.parse(written.path.read_bytes())) == ["cat"]
    assert photo.read_bytes() == b"a photo, never touched"
    assert not [p for p in photo.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [r.get("state") for r in records if r.get("op") == "sidecar"] == ["begin", "done"]


def test_darktable_naming_writes_img_jpg_xmp(photo):
    written = write_tag(photo, CAT, EXT_XMP)
    assert written.path.name == "IMG_0001.JPG.xmp"
    assert not (photo.parent / "IMG_0001.xmp").exists()


def test_a_second_run_leaves_the_sidecar_byte_identical(photo):
    sidecar = photo.with_suffix(".xmp")
    sidecar.write_bytes(LIGHTROOM)
    assert write_tag(photo, CAT).action == MERGED
    first = sidecar.read_bytes()
    assert write_tag(photo, CAT).action == UNCHANGED
    assert sidecar.read_bytes() == first


def test_undo_restores_a_merged_sidecar_byte_for_byte_and_its_time_and_removes_a_created_one(
    photo,
):
    merged_one = photo.with_suffix(".xmp")
    merged_one.write_bytes(DIGIKAM)
    written_at = 1_600_000_000_123_456_789  # as digiKam left it, years ago
    os.utime(merged_one, ns=(written_at, written_at))
    other = photo.parent / "IMG_0002.JPG"
    other.write_bytes(b"another")
    with Journal.create(photo.parent) as journal:
        write_tag(photo, CAT, AUTO, journal)
        write_tag(other, DOG, AUTO, journal)
    assert merged_one.read_bytes() != DIGIKAM and other.with_suffix(".xmp").exists()
    result = undo(journal.path)
    assert result.skipped == []
    assert merged_one.read_bytes() == DIGIKAM
    assert merged_one.stat().st_mtime_ns == written_at  # a photo manager sees no new edit
    assert not other.with_suffix(".xmp").exists()
    assert sorted(result.sidecars) == sorted([merged_one, other.with_suffix(".xmp")])
    assert not (journal.path.parent / "sidecars").exists()  # the kept copies went with it


def test_undo_keeps_a_sidecar_the_user_changed_since(photo):
    sidecar = photo.with_suffix(".xmp")
    sidecar.write_bytes(LIGHTROOM)
    with Journal.create(photo.parent) as journal:
        write_tag(photo, CAT, AUTO, journal)
    sidecar.write_bytes(sidecar.read_bytes().replace(b'xmp:Rating="3"', b'xmp:Rating="5"'))
    edited = sidecar.read_bytes()
    result = undo(journal.path)
    assert len(result.skipped) == 1 and "changed since catsort wrote it" in result.skipped[0]
    assert sidecar.read_bytes() == edited
    backups = list((journal.path.parent / "sidecars").rglob("*.xmp"))
    assert [b.read_bytes() for b in backups] == [LIGHTROOM]  # the earlier one is still kept


def test_a_sidecar_that_is_not_xmp_is_left_untouched_with_its_name_in_the_error(photo):
    sidecar = photo.with_suffix(".xmp")
    sidecar.write_bytes(b"<html>not a sidecar</html>")
    with pytest.raises(CatsortError, match=r"IMG_0001\.xmp: not valid XMP .*left untouched"):
        write_tag(photo, CAT)
    assert sidecar.read_bytes() == b"<html>not a sidecar</html>"


def test_a_sidecar_that_is_a_link_is_not_written_through(photo, tmp_path):
    target = tmp_path / "elsewhere.xmp"
    target.write_bytes(LIGHTROOM)
    photo.with_suffix(".xmp").symlink_to(target)
    with pytest.raises(CatsortError, match="symbolic link"):
        write_tag(photo, CAT)
    assert target.read_bytes() == LIGHTROOM


def test_a_dry_run_reads_and_merges_but_writes_nothing(photo):
    sidecar = photo.with_suffix(".xmp")
    sidecar.write_bytes(LIGHTROOM)
    assert write_tag(photo, CAT, dry_run=True).action == MERGED
    assert sidecar.read_bytes() == LIGHTROOM
    assert write_tag(photo.with_name("new.jpg"), CAT, dry_run=True).action == CREATED
    assert not photo.with_name("new.xmp").exists()


def test_exiftool_reads_the_keywords_back(photo):
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")
    photo.with_suffix(".xmp").write_bytes(DIGIKAM)
    digikam = write_tag(photo, CAT).path
    lightroom = write_tag(photo.with_name("new.JPG"), DOG).path
    done = subprocess.run(
        [exiftool, "-j", "-XMP:all", os.fspath(digikam), os.fspath(lightroom)],
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = json.loads(done.stdout)
    assert first["Subject"] == ["Garden", "Anna", "cat"]
    assert first["HierarchicalSubject"] == ["Places|Garden", "Family|Anna", "Animals|Cat"]
    assert first["Rating"] == 4
    assert second["Subject"] == "dog"  # exiftool gives a list of one as the item
    assert second["HierarchicalSubject"] == "Animals|Dog"


def test_the_next_run_removes_the_temporary_file_of_a_write_killed_before_its_rename(photo):
    sidecar = photo.with_suffix(".xmp")
    sidecar.write_bytes(LIGHTROOM)
    with Journal.create(photo.parent) as journal:
        write_tag(photo, CAT, AUTO, journal)
    # As if killed after the temporary file was written, before the rename and its "done".
    sidecar.write_bytes(LIGHTROOM)
    temp = photo.parent / f"{TEMP_PREFIX}0123456789abcdef.xmp"
    temp.write_bytes(b"<x:xmpmeta half written")
    lines = journal.path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if '"done"' not in line and '"closed"' not in line]
    journal.path.write_text("".join(kept))
    unrelated = photo.parent.parent / f"{TEMP_PREFIX}fedcba9876543210.xmp"
    unrelated.write_bytes(b"not in a folder this run wrote to")

    messages = recover(photo.parent)

    assert not temp.exists() and sidecar.read_bytes() == LIGHTROOM
    assert any(str(temp) in message for message in messages), messages
    assert unrelated.exists()


def test_undo_after_a_run_killed_mid_write_puts_the_earlier_sidecar_back(photo):
    sidecar = photo.with_suffix(".xmp")
    sidecar.write_bytes(LIGHTROOM)
    with Journal.create(photo.parent) as journal:
        write_tag(photo, CAT, AUTO, journal)
    # As if killed after the rename, before its "done" line (and the journal's last) were written.
    lines = journal.path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if '"done"' not in line and '"closed"' not in line]
    journal.path.write_text("".join(kept))
    result = undo(journal.path)
    assert result.skipped == [] and sidecar.read_bytes() == LIGHTROOM
