"""The results CSV: columns per the contract, one flushed row per file, any path round-trips."""

from __future__ import annotations

import csv
import errno
import io
import os
import sys
from pathlib import Path

import pytest

from catsort.columns import header as columns
from catsort.csv_out import ResultsWriter, open_results
from catsort.decision import Prediction
from catsort.errors import FAILED, USAGE, CatsortError, WriteFailed
from catsort.types import PhotoResult

LABELS = ("cat", "dog")
CAT = Prediction("cat", 0.91234, {"cat": 0.91234, "dog": 0.08766}, 0.87654)


def _read(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as stream:
        return list(csv.reader(stream))


def test_header_follows_the_contract():
    assert columns(LABELS) == [
        "path",
        "label",
        "confidence",
        "p_cat",
        "p_dog",
        "pet_score",
        "status",
        "error",
        "destination",
        "companions",
        "sidecar",
        "cached",
        "frames",
    ]


def test_ok_and_error_rows(tmp_path):
    target = tmp_path / "results.csv"
    with open_results(target, LABELS) as writer:
        writer.write(
            PhotoResult(
                Path("a.jpg"), CAT, destination=Path("out/cat/a.jpg"), sidecar=Path("out/cat/a.xmp")
            )
        )
        writer.write(PhotoResult(Path("b.jpg"), error="empty file"))
        writer.write(
            PhotoResult(Path("c.jpg"), Prediction("uncertain", 0.5, {"cat": 0.5, "dog": 0.5}, None))
        )
        writer.write(PhotoResult(Path("d.mp4"), CAT, frames=3))
        writer.write(PhotoResult(Path("e.mov"), error="truncated video", frames=0))
    header, ok, bad, uncertain, video, bad_video = _read(target)
    assert dict(zip(header, ok)) == {
        "path": "a.jpg",
        "label": "cat",
        "confidence": "0.9123",
        "p_cat": "0.9123",
        "p_dog": "0.0877",
        "pet_score": "0.8765",
        "status": "ok",
        "error": "",
        "destination": os.path.join("out", "cat", "a.jpg"),
        "companions": "",
        "sidecar": os.path.join("out", "cat", "a.xmp"),
        "cached": "no",
        "frames": "",
    }
    assert bad == ["b.jpg", "", "", "", "", "", "error", "empty file", "", "", "", "no", ""]
    assert dict(zip(header, uncertain))["pet_score"] == ""
    assert dict(zip(header, uncertain))["label"] == "uncertain"
    # A video's row is a photo's, with how many of its frames were looked at.
    assert dict(zip(header, video)) == {
        **dict(zip(header, ok)),
        "path": "d.mp4",
        "destination": "",
        "sidecar": "",
        "frames": "3",
    }
    assert dict(zip(header, bad_video))["frames"] == "0"


@pytest.mark.parametrize(
    "name",
    [
        "with, comma.jpg",
        'quote " inside.jpg',
        "new\nline.jpg",
        "ünïcødé 猫.jpg",
        os.fsdecode(b"latin1-\xe9t\xe9.jpg"),
        "trailing space .jpg",
    ],
)
def test_awkward_paths_round_trip_through_csv_reader(tmp_path, name):
    target = tmp_path / "results.csv"
    path = Path("photos") / name
    with open_results(target, LABELS) as writer:
        writer.write(PhotoResult(path, CAT))
    _, row = _read(target)
    assert row[0] == os.fspath(path)
    assert os.fsencode(row[0]) == os.fsencode(path)


def test_each_row_is_on_disk_before_the_next(tmp_path):
    target = tmp_path / "results.csv"
    with open_results(target, LABELS) as writer:
        writer.write(PhotoResult(Path("a.jpg"), CAT))
        assert len(_read(target)) == 2  # an interrupted run keeps this row
        writer.write(PhotoResult(Path("b.jpg"), CAT))
        assert len(_read(target)) == 3


def test_dash_writes_to_stdout_with_surrogates_kept(monkeypatch):
    buffer = io.BytesIO()
    fake = io.TextIOWrapper(buffer, encoding="ascii")  # a terminal that cannot show them
    monkeypatch.setattr(sys, "stdout", fake)
    with open_results("-", LABELS) as writer:
        writer.write(PhotoResult(Path(os.fsdecode(b"caf\xe9.jpg")), CAT))
    assert not fake.closed
    lines = buffer.getvalue().split(b"\r\n")
    assert lines[0].startswith(b"path,label,")
    assert lines[1].startswith(b"caf\xe9.jpg,cat,0.9123,")


def test_unwritable_csv_is_a_usage_error(tmp_path):
    with pytest.raises(CatsortError, match="cannot write the CSV") as info:
        with open_results(tmp_path / "no" / "such" / "dir.csv", LABELS):
            pass
    assert info.value.kind == USAGE


def test_csv_never_overwrites_a_photo(tmp_path):
    photo = tmp_path / "cat.jpg"
    photo.write_bytes(b"precious")
    with pytest.raises(CatsortError, match="refusing"), open_results(photo, LABELS):
        pass
    assert photo.read_bytes() == b"precious"


@pytest.mark.parametrize(("name", "kind"), [("cat.jpg", "photo"), ("clip.MOV", "video")])
def test_csv_never_replaces_a_photo_or_video_not_even_an_empty_one(tmp_path, name, kind):
    media = tmp_path / name
    media.write_bytes(b"")  # a copy just started: nothing in it yet
    with pytest.raises(CatsortError, match=f"is a {kind}; refusing"), open_results(media, LABELS):
        pass
    assert media.exists()


def test_csv_never_overwrites_a_file_that_is_not_an_earlier_csv(tmp_path):
    raw = tmp_path / "IMG_0001.CR2"
    raw.write_bytes(b"raw sensor data")
    link = tmp_path / "results.csv"
    link.symlink_to(tmp_path / "photo.jpg")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 a photo")
    for target in (raw, link):
        with pytest.raises(CatsortError, match="not a catsort results CSV") as info:
            with open_results(target, LABELS):
                pass
        assert info.value.kind == USAGE
    assert raw.read_bytes() == b"raw sensor data"
    assert (tmp_path / "photo.jpg").read_bytes() == b"\xff\xd8 a photo"


@pytest.mark.parametrize("before", [b"", None])
def test_an_earlier_csv_or_an_empty_file_is_replaced(tmp_path, before):
    target = tmp_path / "results.csv"
    if before is not None:
        target.write_bytes(before)
    else:
        with open_results(target, LABELS) as writer:  # a first run
            writer.write(PhotoResult(Path("old.jpg"), CAT))
    with open_results(target, LABELS) as writer:
        writer.write(PhotoResult(Path("new.jpg"), CAT))
    assert [row[0] for row in _read(target)] == ["path", "new.jpg"]


def test_an_empty_csv_name_is_a_usage_error(tmp_path):
    with pytest.raises(CatsortError, match="--csv needs a file name") as info:
        with open_results("", LABELS):
            pass
    assert info.value.kind == USAGE


class _FailingStream(io.StringIO):
    def __init__(self, code: int, rows_before: int) -> None:
        super().__init__()
        self.code, self.left = code, rows_before

    def flush(self) -> None:
        if self.left == 0:
            raise OSError(self.code, os.strerror(self.code))
        self.left -= 1


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EPIPE, "the program reading it stopped"),
    ],
)
def test_a_write_that_fails_part_way_is_one_line_and_exit_1(code, reason):
    writer = ResultsWriter(_FailingStream(code, rows_before=2), LABELS, "out.csv")
    writer.write(PhotoResult(Path("a.jpg"), CAT))
    with pytest.raises(CatsortError) as info:
        writer.write(PhotoResult(Path("b.jpg"), CAT))
    assert str(info.value) == f"out.csv: cannot write the CSV ({reason})"
    assert info.value.kind == FAILED and isinstance(info.value, WriteFailed)
    with pytest.raises(WriteFailed):  # and every row after it: nothing written past the gap
        writer.write(PhotoResult(Path("c.jpg"), CAT))


def test_a_csv_that_fails_as_it_is_closed_is_reported(tmp_path, monkeypatch):
    # Network file systems may report a full disk only when the file is closed.
    class FailsOnClose(io.StringIO):
        def close(self) -> None:
            super().close()
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(
        "catsort.csv_out.open", lambda *args, **kwargs: FailsOnClose(), raising=False
    )
    with pytest.raises(CatsortError, match=r"out.csv: cannot write the CSV \(Input/output error\)"):
        with open_results(tmp_path / "out.csv", LABELS) as writer:
            writer.write(PhotoResult(Path("a.jpg"), CAT))
