"""classify on a phone library with videos: each clip sorted from its frames, Live Photos kept
whole, sidecars with their video, the cache, --no-videos, tags exiftool reads, the report."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BLUE, GREEN, RED
from typer.testing import CliRunner
from videofile import write_audio_only, write_clip

from catsort.cli import app
from catsort.model import Classifier
from catsort.sorting.journal import undo

runner = CliRunner()
# A video's sidecar as a photo manager writes it: a rating, kept when the keyword is merged in.
SIDECAR = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>
 </rdf:RDF>
</x:xmpmeta>
"""


def classify(model: Path, *args: object):
    return runner.invoke(app, ["classify", "--model", str(model), *map(str, args)])


def rows_of(text: str) -> dict[str, dict[str, str]]:
    """CSV rows by file name."""
    return {Path(row["path"]).name: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def phone(tmp_path, make_photo) -> Path:
    """A phone's library: a Live Photo, clips of a cat (with its sidecar), of a dog (filmed
    upright: turned by its rotation) and of a lawn, an unfinished upload and a voice memo."""
    root = tmp_path / "Phone"
    make_photo(root / "2020" / "IMG_1.JPG", RED)
    write_clip(root / "2020" / "IMG_1.MOV", BLUE)  # alone it would be a dog: it is the photo's
    write_clip(root / "2020" / "VID_2.mp4", RED, seconds=3)
    (root / "2020" / "VID_2.mp4.xmp").write_bytes(SIDECAR)
    write_clip(root / "2020" / "VID_3.MOV", BLUE, size=(64, 32), rotation=90)
    write_clip(root / "2020" / "VID_4.mp4", GREEN)
    whole = write_clip(tmp_path / "upload.mp4", RED, seconds=3).read_bytes()
    (root / "2021").mkdir()
    (root / "2021" / "upload.mp4").write_bytes(whole[: len(whole) // 2])  # no index yet
    write_audio_only(root / "2021" / "voice.mp4")
    return root


def test_move_sorts_each_clip_by_its_frames_and_keeps_live_photos_whole(
    phone, tiny_model, tmp_path, read_tree
):
    before = read_tree(phone)
    results = tmp_path / "results.csv"
    done = classify(tiny_model, phone, "--move", "--csv", results)
    assert done.exit_code == 1, done.output  # two clips could not be read
    after = read_tree(phone)
    assert sorted(after) == [
        "2020/VID_4.mp4",  # a lawn: other, left where it is
        "2021/upload.mp4",
        "2021/voice.mp4",
        "cat/2020/IMG_1.JPG",
        "cat/2020/IMG_1.MOV",  # with its photo, not sorted on its own
        "cat/2020/VID_2.mp4",
        "cat/2020/VID_2.mp4.xmp",  # its sidecar went with it
        "dog/2020/VID_3.MOV",
    ]
    with open(results, newline="", encoding="utf-8") as stream:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(stream)}
    assert {name: (row["label"], row["status"], row["frames"]) for name, row in rows.items()} == {
        "IMG_1.JPG": ("cat", "ok", ""),
        "VID_2.mp4": ("cat", "ok", "3"),
        "VID_3.MOV": ("dog", "ok", "3"),
        "VID_4.mp4": ("other", "ok", "3"),
        "upload.mp4": ("", "error", "0"),
        "voice.mp4": ("", "error", "0"),
    }
    assert rows["IMG_1.JPG"]["companions"] == "IMG_1.MOV"
    assert rows["VID_2.mp4"]["companions"] == "VID_2.mp4.xmp"
    assert "unfinished copy or upload" in rows["upload.mp4"]["error"]
    assert rows["voice.mp4"]["error"].endswith("no video in it (audio only?)")
    output = " ".join(done.output.split())
    assert "of them videos │ 5" in output and "not photos, left alone" not in output
    undo(next((phone / ".catsort").glob("journal-*.jsonl")))
    assert read_tree(phone) == before


def test_the_dry_run_plan_shows_a_video_and_its_sidecar(phone, tiny_model, read_tree):
    before = read_tree(phone)
    done = classify(tiny_model, phone, "--move", "--dry-run")
    assert f"cat\t{phone / '2020' / 'VID_2.mp4'}\t{phone / 'cat' / '2020' / 'VID_2.mp4'}" in (
        done.stdout
    )
    assert f"\t{phone / '2020' / 'VID_2.mp4.xmp'}\t" in done.stdout
    assert read_tree(phone) == before


def test_copy_copies_videos_once(phone, tiny_model, tmp_path):
    sorted_ = tmp_path / "Sorted"
    first = classify(tiny_model, phone, "--copy", "--dest", sorted_)
    assert first.exit_code == 1, first.output
    assert (sorted_ / "dog" / "2020" / "VID_3.MOV").read_bytes() == (
        phone / "2020" / "VID_3.MOV"
    ).read_bytes()
    again = classify(tiny_model, phone, "--copy", "--dest", sorted_)
    assert "copied before │ 3" in " ".join(again.output.split())
    assert not (sorted_ / "dog" / "2020" / "VID_3 (1).MOV").exists()


def test_tag_writes_a_videos_keyword_into_its_sidecar_and_exiftool_reads_it(phone, tiny_model):
    done = classify(tiny_model, phone, "--tag")
    assert done.exit_code == 1, done.output
    cat, dog = phone / "2020" / "VID_2.mp4.xmp", phone / "2020" / "VID_3.xmp"
    assert cat.read_bytes() != SIDECAR and dog.is_file()  # merged into its own; a new one
    assert not (phone / "2020" / "VID_4.xmp").exists()  # other: no keyword
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")
    read = subprocess.run(
        [exiftool, "-j", "-XMP:all", os.fspath(cat), os.fspath(dog)],
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = json.loads(read.stdout)
    assert (first["Subject"], first["HierarchicalSubject"]) == ("cat", "Animals|Cat")
    assert first["Rating"] == 4  # what was in it is kept
    assert (second["Subject"], second["HierarchicalSubject"]) == ("dog", "Animals|Dog")


def test_the_cache_keeps_a_videos_result_and_its_frames(phone, tiny_model, monkeypatch):
    first = classify(tiny_model, phone, "--csv", "-")
    rows = []
    predict = Classifier.predict

    def counting(self, batch):
        rows.append(len(batch))
        return predict(self, batch)

    monkeypatch.setattr(Classifier, "predict", counting)
    again = classify(tiny_model, phone, "--csv", "-")
    assert sum(rows) == 0, "no clip was read again"
    before, after = rows_of(first.stdout), rows_of(again.stdout)
    assert after["VID_3.MOV"]["cached"] == "yes" and after["VID_3.MOV"]["frames"] == "3"
    for name in ("VID_2.mp4", "VID_3.MOV", "VID_4.mp4"):
        assert {k: v for k, v in after[name].items() if k != "cached"} == {
            k: v for k, v in before[name].items() if k != "cached"
        }
    assert after["upload.mp4"]["cached"] == "no"  # errors are never cached


def test_no_videos_leaves_them_alone_but_a_live_photo_stays_whole(phone, tiny_model, read_tree):
    before = read_tree(phone)
    done = classify(tiny_model, phone, "--move", "--no-videos", "--csv", "-")
    assert done.exit_code == 0, done.output
    assert list(rows_of(done.stdout)) == ["IMG_1.JPG"]
    after = read_tree(phone)
    assert {name for name in after if name.startswith("cat/")} == {
        "cat/2020/IMG_1.JPG",
        "cat/2020/IMG_1.MOV",
    }
    moved = {"2020/IMG_1.JPG", "2020/IMG_1.MOV"}
    assert {k: v for k, v in after.items() if "/" in k and k.count("/") == 1} == {
        k: v for k, v in before.items() if k not in moved
    }
    assert "videos, left alone: 4 .mp4, 1 .mov" in " ".join(done.stderr.split())


def test_the_report_counts_the_videos(phone, tiny_model, tmp_path):
    results = tmp_path / "results.csv"
    classify(tiny_model, phone, "--csv", results)
    shown = runner.invoke(app, ["report", str(results)])
    assert shown.exit_code == 0, shown.output
    assert "6 photos (of them 5 videos)" in " ".join(shown.output.split())
    as_json = json.loads(runner.invoke(app, ["report", str(results), "--json"]).stdout)
    assert as_json["videos"] == 5
