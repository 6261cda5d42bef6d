"""Finding photos: sorted, recursive or not, hidden names skipped, loops and label folders left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from catsort.errors import USAGE, CatsortError
from catsort.walk import WalkTally, check_inputs, find_images


def names(root: Path, paths) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_folders_are_walked_in_sorted_order_with_photo_names_only(tmp_path, make_files):
    make_files(
        tmp_path,
        {
            "b.png": b"",
            "a.JPG": b"",
            "notes.txt": b"",
            "c/z.jpeg": b"",
            "c/a.webp": b"",
            "B/x.heic": b"",
            "raw.cr2": b"",
        },
    )
    found = names(tmp_path, find_images([tmp_path]))
    assert found == ["B/x.heic", "a.JPG", "b.png", "c/a.webp", "c/z.jpeg", "raw.cr2"]
    assert found == names(tmp_path, find_images([tmp_path])), "the order must be stable"


def test_no_recursive_stays_in_the_folder(tmp_path, make_files):
    make_files(tmp_path, {"top.jpg": b"", "sub/deep.jpg": b""})
    assert names(tmp_path, find_images([tmp_path], recursive=False)) == ["top.jpg"]


def test_hidden_files_and_folders_are_skipped(tmp_path, make_files):
    make_files(
        tmp_path,
        {
            ".hidden.jpg": b"",
            ".thumbs/t.jpg": b"",
            "sub/.x.jpg": b"",
            "sub/ok.jpg": b"",
        },
    )
    assert names(tmp_path, find_images([tmp_path])) == ["sub/ok.jpg"]


def test_files_named_explicitly_are_yielded_whatever_their_extension(tmp_path, make_files):
    make_files(tmp_path, {"photo.dat": b"", "b.jpg": b"", "dir/a.jpg": b""})
    found = find_images([tmp_path / "photo.dat", tmp_path / "dir", tmp_path / "b.jpg"])
    assert names(tmp_path, found) == ["photo.dat", "dir/a.jpg", "b.jpg"]


def test_a_file_reached_twice_is_yielded_once(tmp_path, make_files):
    make_files(tmp_path, {"a/x.jpg": b"", "a/y.jpg": b""})
    x = tmp_path / "a" / "x.jpg"
    found = find_images([x, tmp_path / "a", tmp_path / "a", x])
    assert names(tmp_path, found) == ["a/x.jpg", "a/y.jpg"]


def test_symlink_loops_are_never_walked_twice(tmp_path, make_files):
    make_files(tmp_path, {"a/x.jpg": b"", "a/b/y.jpg": b""})
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "again").symlink_to(tmp_path / "a" / "b", target_is_directory=True)
    # a/again is met first (sorted) and walks b; b itself and the loop back up are then skipped.
    found = names(tmp_path, find_images([tmp_path], follow_links=True))
    assert found == ["a/again/y.jpg", "a/x.jpg"]


def test_folder_links_are_followed_only_with_follow_links(tmp_path, make_files):
    make_files(tmp_path, {"elsewhere/x.jpg": b"", "photos/y.jpg": b""})
    (tmp_path / "photos" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    tally = WalkTally()
    found = names(tmp_path, find_images([tmp_path / "photos"], tally=tally))
    assert found == ["photos/y.jpg"]
    assert tally.not_entered == {
        tmp_path / "photos" / "link": "a link to a folder; --follow-links walks it"
    }
    found = names(tmp_path, find_images([tmp_path / "photos"], follow_links=True))
    assert found == ["photos/link/x.jpg", "photos/y.jpg"]


def test_a_broken_symlink_with_an_image_name_is_yielded(tmp_path):
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    assert names(tmp_path, find_images([tmp_path])) == ["gone.jpg", "loop.jpg"]


def test_a_link_to_a_photo_the_walk_finds_anyway_is_left_out_so_each_is_classified_once(
    tmp_path, make_files
):
    make_files(
        tmp_path,
        {
            "lib/2019/a.jpg": b"",
            "lib/.hidden/h.jpg": b"",
            "lib/2019/notes.dat": b"",
            "far/f.jpg": b"",
        },
    )
    lib = tmp_path / "lib"
    (lib / "best").mkdir()
    for name, target in {
        "a.jpg": lib / "2019" / "a.jpg",  # walked under its own name: left out
        "h.jpg": lib / ".hidden" / "h.jpg",  # hidden, so never walked: the link is the way in
        "n.jpg": lib / "2019" / "notes.dat",  # not a photo name, so never walked
        "f.jpg": tmp_path / "far" / "f.jpg",  # outside the folder given
    }.items():
        (lib / "best" / name).symlink_to(target)
    tally = WalkTally()
    found = names(lib, find_images([lib], tally=tally))
    assert found == ["2019/a.jpg", "best/f.jpg", "best/h.jpg", "best/n.jpg"]
    assert tally.duplicate_links == [lib / "best" / "a.jpg"]
    # Not recursive: the photo in 2019/ is not walked, so a link beside it is the way in.
    (lib / "top.jpg").symlink_to(lib / "2019" / "a.jpg")
    assert names(lib, find_images([lib], recursive=False)) == ["top.jpg"]
    # Another folder given holds the photo: the link in this one is left out.
    found = names(tmp_path, find_images([lib / "best", lib / "2019"]))
    assert found == ["lib/best/f.jpg", "lib/best/h.jpg", "lib/best/n.jpg", "lib/2019/a.jpg"]


def test_skip_dirs_are_never_entered_even_through_another_path(tmp_path, make_files):
    make_files(tmp_path, {"new.jpg": b"", "cat/a.jpg": b"", "dog/b.jpg": b"", "other/o.jpg": b""})
    (tmp_path / "via").symlink_to(tmp_path / "cat", target_is_directory=True)
    skip = [tmp_path / "cat", tmp_path / "." / "dog"]
    found = find_images([tmp_path], skip_dirs=skip, follow_links=True)
    assert names(tmp_path, found) == ["new.jpg", "other/o.jpg"]


def test_a_label_folder_made_during_the_walk_is_skipped(tmp_path, make_files):
    make_files(tmp_path, {"a.jpg": b"", "b.jpg": b"", "z/c.jpg": b""})
    walk = find_images([tmp_path], skip_dirs=[tmp_path / "y"])
    first = next(walk)
    (tmp_path / "y").mkdir()  # as --move would, after the walk has started
    os.rename(first, tmp_path / "y" / first.name)
    assert names(tmp_path, walk) == ["b.jpg", "z/c.jpg"]


def test_an_unreadable_folder_is_reported_and_the_walk_goes_on(tmp_path, make_files, monkeypatch):
    make_files(tmp_path, {"locked/x.jpg": b"", "open/y.jpg": b""})
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors = []
    walk = find_images([tmp_path], on_error=lambda path, why: errors.append((path, why)))
    found = names(tmp_path, walk)
    assert found == ["open/y.jpg"]
    assert errors == [(tmp_path / "locked", "cannot read folder (permission denied)")]


def test_a_fifo_named_like_an_image_is_reported_not_yielded(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.jpg")
    errors = []
    assert list(find_images([tmp_path], on_error=lambda p, why: errors.append(why))) == []
    assert errors == ["not a regular file, skipped"]


def test_a_fifo_named_on_the_command_line_is_reported_not_yielded(tmp_path, make_files):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it to decode would wait forever for a writer
    make_files(tmp_path, {"x.jpg": b""})
    errors = []
    found = list(
        find_images(
            [tmp_path / "pipe.jpg", tmp_path / "x.jpg"],
            on_error=lambda p, why: errors.append((p, why)),
        )
    )
    assert found == [tmp_path / "x.jpg"]
    assert errors == [(tmp_path / "pipe.jpg", "not a regular file, skipped")]


def test_the_walk_streams_instead_of_listing_everything_first(tmp_path, make_files, monkeypatch):
    make_files(tmp_path, {f"d{i}/x.jpg": b"" for i in range(5)})
    listed = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: listed.append(p) or real_scandir(p))
    walk = find_images([tmp_path])
    next(walk)
    assert len(listed) == 2, "only the root and the first folder should be read so far"


def test_check_inputs_names_a_missing_path(tmp_path):
    (tmp_path / "here.jpg").write_bytes(b"")
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "nowhere")
    check_inputs([tmp_path, tmp_path / "here.jpg", tmp_path / "broken.jpg"])
    with pytest.raises(CatsortError, match=r"missing\.jpg: no such file or folder") as info:
        check_inputs([tmp_path, tmp_path / "missing.jpg"])
    assert info.value.kind == USAGE


# --- what the walk leaves alone --------------------------------------------------------------


def test_application_libraries_nas_and_trash_folders_are_never_entered(tmp_path, make_files):
    left_alone = [
        "Photos Library.photoslibrary/originals/0/IMG_0001.jpeg",
        "Old.photolibrary/Masters/a.jpg",
        "iPhoto Library/Masters/2009/b.jpg",
        "Aperture Library.aplibrary/Masters/c.jpg",
        "iPhoto Library.migratedphotolibrary/Masters/d.jpg",
        "Lightroom/Lightroom Catalog Previews.lrdata/0/0A/e.jpg",
        "Lightroom/Lightroom Catalog.lrcat-data/f.jpg",
        "Session/Capture/CaptureOne/Cache/Proxies/g.jpg",
        "2019/@eaDir/IMG_0004.JPG/SYNOPHOTO_THUMB_XL.jpg",
        "#recycle/h.jpg",
        "@Recycle/i.jpg",
        "#snapshot/GMT+01_2024.01.01-00.00.00/j.jpg",
        "$RECYCLE.BIN/S-1-5-21/k.jpg",
        "System Volume Information/l.jpg",
        "PHOTOS.PHOTOSLIBRARY/m.jpg",  # a case-insensitive file system's spelling
    ]
    make_files(
        tmp_path, {name: b"" for name in [*left_alone, "2019/07/ok.jpg", "Session/Capture/x.jpg"]}
    )
    tally = WalkTally()
    found = names(tmp_path, find_images([tmp_path], tally=tally))
    assert found == ["2019/07/ok.jpg", "Session/Capture/x.jpg"]
    reasons = {
        path.relative_to(tmp_path).as_posix(): why for path, why in tally.not_entered.items()
    }
    assert reasons["Photos Library.photoslibrary"] == "an application's library"
    assert reasons["PHOTOS.PHOTOSLIBRARY"] == "an application's library"
    assert reasons["2019/@eaDir"] == "a NAS's thumbnails and metadata"
    assert reasons["$RECYCLE.BIN"] == "a recycle bin or trash"
    assert reasons["Session/Capture/CaptureOne"] == "Capture One's previews and settings"
    assert len(reasons) == len(left_alone), "each folder is recorded once, where it was met"
    assert tally.not_photos == {}, "nothing inside them was looked at, not even to count"


def test_a_folder_holding_a_nomedia_file_is_not_entered_nor_anything_below(tmp_path, make_files):
    make_files(
        tmp_path,
        {
            "WhatsApp/Media/.Statuses/s.jpg": b"",
            "WhatsApp/Media/cache/.nomedia": b"",
            "WhatsApp/Media/cache/thumb.jpg": b"",
            "WhatsApp/Media/cache/deeper/x.jpg": b"",
            "WhatsApp/Media/Images/IMG-1.jpg": b"",
        },
    )
    tally = WalkTally()
    assert names(tmp_path, find_images([tmp_path], tally=tally)) == [
        "WhatsApp/Media/Images/IMG-1.jpg"
    ]
    assert tally.not_entered == {
        tmp_path / "WhatsApp/Media/cache": (
            "a folder with a .nomedia file, Android's mark for no photos"
        )
    }


def test_no_recursive_names_no_skipped_folder(tmp_path, make_files):
    make_files(tmp_path, {"a.jpg": b"", "Photos.photoslibrary/x.jpg": b""})
    tally = WalkTally()
    assert names(tmp_path, find_images([tmp_path], recursive=False, tally=tally)) == ["a.jpg"]
    assert tally.not_entered == {}


def test_exclude_patterns_are_gitignore_style_relative_to_the_folder_given(tmp_path, make_files):
    root = make_files(
        tmp_path / "Pictures",
        {
            "top.jpg": b"",
            "2019/top.jpg": b"",
            "Exports/web/a.jpg": b"",
            "2019/Exports/b.jpg": b"",
            "2019/screen.png": b"",
            "2019/keep.png": b"",
            "2019/notes.txt": b"",
            "2020/c.jpg": b"",
        },
    )
    tally = WalkTally()
    exclude = ["/top.jpg", "Exports/", "*.png", "!keep.png", "*.txt"]
    found = names(root, find_images([root], exclude=exclude, tally=tally))
    assert found == ["2019/keep.png", "2019/top.jpg", "2020/c.jpg"]
    assert tally.not_entered == {
        root / "2019/Exports": "--exclude Exports/",
        root / "Exports": "--exclude Exports/",
    }
    assert tally.excluded == 2  # /top.jpg and screen.png; notes.txt is neither photo nor counted
    assert tally.not_photos == {}


def test_files_that_are_not_photos_are_counted_by_extension(tmp_path, make_files):
    make_files(
        tmp_path,
        {
            "IMG_1.HEIC": b"",
            "IMG_1.MOV": b"",
            "IMG_2.mov": b"",
            "a/clip.mov": b"",
            "a/notes.txt": b"",
            "a/README": b"",
            "a/.DS_Store": b"",  # hidden: not the user's file to count
            "lib.photoslibrary/x.mov": b"",  # never entered: not counted
        },
    )
    tally = WalkTally()
    assert names(tmp_path, find_images([tmp_path], tally=tally)) == ["IMG_1.HEIC"]
    assert tally.not_photos == {".mov": 3, ".txt": 1, "(no extension)": 1}


def test_a_folder_named_like_a_photo_is_walked_as_a_folder_only(tmp_path, make_files):
    make_files(tmp_path, {"x.jpg/inside.png": b""})
    (tmp_path / "y.JPG").mkdir()
    assert names(tmp_path, find_images([tmp_path])) == ["x.jpg/inside.png"]
    assert names(tmp_path, find_images([tmp_path], recursive=False)) == []


def test_videos_are_walked_when_asked_for_in_any_case(tmp_path, make_files):
    make_files(
        tmp_path,
        {
            "IMG_1.HEIC": b"",
            "IMG_1.MOV": b"",  # a Live Photo's: the walk yields it, the run leaves it out
            "a/clip.MP4": b"",
            "a/old.avi": b"",
            "a/trip.mkv/x.txt": b"",  # a folder named like a video: a folder, walked
            "a/voice.m4a": b"",
            "b.webm": b"",
        },
    )
    tally = WalkTally()
    found = find_images([tmp_path], tally=tally, videos=True)
    assert names(tmp_path, found) == [
        "IMG_1.HEIC",
        "IMG_1.MOV",
        "a/clip.MP4",
        "a/old.avi",
        "b.webm",
    ]
    assert tally.not_photos == {".m4a": 1, ".txt": 1}


def test_without_videos_a_video_named_on_the_command_line_is_left_alone_too(tmp_path, make_files):
    make_files(tmp_path, {"clip.mov": b"", "b.jpg": b""})
    tally = WalkTally()
    found = find_images([tmp_path / "clip.mov", tmp_path / "b.jpg"], tally=tally)
    assert names(tmp_path, found) == ["b.jpg"]
    assert tally.not_photos == {".mov": 1}
    named = find_images([tmp_path / "clip.mov"], videos=True)
    assert names(tmp_path, named) == ["clip.mov"]
