"""catsort report --html: one self-contained page with the summary and thumbnails per label."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image
from test_report import HEADER, failed, ok, write_csv
from typer.testing import CliRunner

from catsort.cli import app
from catsort.errors import CatsortError
from catsort.report.html import thumbnail_uri, write_html
from catsort.report.read import read_results
from catsort.report.summary import summarize

runner = CliRunner()
WEIRD_NAME = '<script>&"x".jpg'


def make_report(tmp_path: Path, rows: list[list[str]], truth: bool = False, **options) -> str:
    """Write rows as a results CSV, make the page from it and return its text."""
    results = read_results(write_csv(tmp_path / "results.csv", rows))
    out = tmp_path / "report.html"
    write_html(results, summarize(results, truth=truth), out, **options)
    return out.read_text(encoding="utf-8")


def sections(page: str) -> dict[str, str]:
    """The page's thumbnail sections by their heading."""
    found = {}
    for part in page.split("<section")[1:]:
        heading = re.search(r"<h2>(.*?)</h2>", part)
        if heading:
            found[heading.group(1)] = part
    return found


@pytest.fixture
def photos(tmp_path: Path, make_photo) -> dict[str, Path]:
    """A few small photos: cats, a dog, a non-pet, one with an awkward name."""
    return {
        "c1": make_photo(tmp_path / "in" / "cats" / "c1.jpg", size=(64, 48)),
        "c2": make_photo(tmp_path / "in" / "cats" / "c2.png", size=(48, 64), format="PNG"),
        "d1": make_photo(tmp_path / "in" / "dogs" / "d1.jpg", color=(20, 20, 230)),
        "car": make_photo(tmp_path / "in" / "car.jpg", color=(20, 230, 20)),
        "weird": make_photo(tmp_path / "in" / WEIRD_NAME),
    }


def test_the_page_is_self_contained(tmp_path: Path, photos: dict[str, Path]):
    page = make_report(
        tmp_path,
        [
            ok(str(photos["c1"]), "cat", 0.9),
            ok(str(photos["c2"]), "cat", 0.8),
            ok(str(photos["d1"]), "dog", 0.95),
            ok(str(photos["car"]), "other", 0.7, pet=0.1),
        ],
    )

    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 4
    assert all(source.startswith("data:image/jpeg;base64,") for source in sources)
    assert "<style>" in page and "photos in" in page  # the summary card


def test_thumbnails_are_small_upright_jpegs(tmp_path: Path):
    photo = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: to be shown turned 90 degrees
    Image.new("RGB", (800, 400), (200, 30, 30)).save(photo, exif=exif)

    uri = thumbnail_uri(photo)

    thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert thumb.format == "JPEG"
    assert thumb.size == (80, 160)  # upright (portrait) and at most 160 px


def test_a_raw_files_thumbnail_is_its_preview_turned_as_the_raw_file_says(tmp_path: Path):
    from rawfile import write_dng

    preview = Image.new("RGB", (320, 160), (200, 30, 30))
    # An ORF header: Pillow cannot open the file, only its preview through LibRaw.
    uri = thumbnail_uri(write_dng(tmp_path / "P1000.ORF", preview, orientation=6, olympus=True))

    assert uri is not None
    thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert thumb.size == (80, 160)  # the preview, upright (portrait) as the DNG says
    assert thumbnail_uri(write_dng(tmp_path / "none.nef", preview, preview=False)) is None


def test_a_videos_thumbnail_is_its_middle_frame_turned_as_players_show_it(tmp_path: Path):
    from videofile import write_clip

    clip = write_clip(
        tmp_path / "VID.mov", [(20, 20, 230), (200, 30, 30)], size=(320, 160), rotation=90
    )
    thumb = Image.open(io.BytesIO(base64.b64decode(thumbnail_uri(clip).split(",", 1)[1])))
    assert thumb.size == (80, 160)  # filmed upright: stored sideways, shown portrait
    red, _, blue = thumb.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert red > 150 and blue < 80  # the keyframe in the middle (the second colour)
    assert thumbnail_uri(tmp_path / "gone.mp4") is None


def test_a_video_says_so_and_how_many_frames_were_looked_at(tmp_path: Path):
    from videofile import write_clip

    clip = write_clip(tmp_path / "VID.mp4", (200, 30, 30))
    header = [*HEADER, "frames"]
    rows = [[*ok(str(clip), "cat", 0.9), "3"], [*failed(str(clip) + "x.mp4", "empty file"), "0"]]
    results = read_results(write_csv(tmp_path / "results.csv", rows, header))
    out = tmp_path / "report.html"
    write_html(results, summarize(results), out)
    page = out.read_text(encoding="utf-8")
    cats, errors = sections(page)["cat"], sections(page)["errors"]
    assert "&#9654; 3 frames" in cats and 'src="data:image/jpeg;base64,' in cats
    assert "&#9654; video" in errors
    assert "2 photos (of them 2 videos)" in page


def test_file_names_are_escaped(tmp_path: Path, photos: dict[str, Path]):
    page = make_report(
        tmp_path,
        [ok(str(photos["weird"]), "cat", 0.9), failed(str(tmp_path / WEIRD_NAME), "empty file")],
    )

    assert WEIRD_NAME not in page
    assert "&lt;script&gt;&amp;&quot;x&quot;.jpg" in page
    assert "<script" not in page


def test_missing_and_unreadable_photos_show_a_placeholder(tmp_path: Path, photos):
    text_file = tmp_path / "in" / "notes.jpg"
    text_file.write_text("not a picture")
    page = make_report(
        tmp_path,
        [
            ok(str(photos["c1"]), "cat", 0.9),
            ok(str(tmp_path / "in" / "cats" / "deleted.jpg"), "cat", 0.8),
            failed(str(text_file), "not an image catsort can read"),
        ],
    )

    cat, errors = sections(page)["cat"], sections(page)["errors"]
    assert "deleted.jpg" in cat and "image no longer here" in cat
    assert "notes.jpg" in errors and "cannot show this image" in errors
    assert "not an image catsort can read" in errors
    assert page.count("data:image/jpeg") == 1


def test_other_has_its_own_grid_and_grids_go_least_confident_first(tmp_path, photos):
    page = make_report(
        tmp_path,
        [
            ok(str(photos["c1"]), "cat", 0.97),
            ok(str(photos["c2"]), "cat", 0.62),
            ok(str(photos["d1"]), "uncertain", 0.55),
            ok(str(photos["car"]), "other", 0.9, pet=0.1),
        ],
    )

    grids = sections(page)
    assert list(grids) == ["cat", "dog", "uncertain", "other"]
    assert "car.jpg" in grids["other"] and "car.jpg" not in grids["cat"]
    assert grids["cat"].index("c2.png") < grids["cat"].index("c1.jpg")
    assert "d1.jpg" in grids["uncertain"]


def test_truth_marks_the_photos_in_the_wrong_folder(tmp_path: Path, photos):
    page = make_report(
        tmp_path, [ok(str(photos["c1"]), "cat", 0.9), ok(str(photos["d1"]), "cat", 0.8)], truth=True
    )

    assert page.count('class="tile wrong"') == 1
    assert "true: dog" in page
    assert "Against truth folders" in page


def test_a_limit_per_grid_says_what_was_left_out(tmp_path: Path, make_photo):
    rows = [ok(str(make_photo(tmp_path / f"c{i}.jpg")), "cat", 0.6 + i / 100) for i in range(5)]
    results = read_results(write_csv(tmp_path / "results.csv", rows))

    page = write_html(results, summarize(results), tmp_path / "report.html", limit=2)

    text = page.path.read_text(encoding="utf-8")
    assert page.shown == 2 and page.left_out == {"cat": 3}
    assert "c0.jpg" in text and "c1.jpg" in text and "c4.jpg" not in text
    assert "3 more not shown" in text


def test_only_an_earlier_report_is_overwritten(tmp_path: Path, photos):
    results = read_results(write_csv(tmp_path / "results.csv", [ok(str(photos["c1"]), "cat", 0.9)]))
    summary = summarize(results)
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")

    with pytest.raises(CatsortError, match="not a catsort report"):
        write_html(results, summary, notes)
    assert notes.read_text() == "<p>my notes</p>"

    page = tmp_path / "report.html"
    write_html(results, summary, page)
    write_html(results, summary, page)  # again: replacing our own page is fine
    assert "c1.jpg" in page.read_text(encoding="utf-8")


def test_a_page_named_like_a_photo_is_refused(tmp_path: Path, photos):
    results = read_results(write_csv(tmp_path / "results.csv", [ok(str(photos["c1"]), "cat", 0.9)]))
    page = photos["c1"].parent / "new.jpg"  # among the photos, the next classify's bad photo

    with pytest.raises(CatsortError, match="named like a photo"):
        write_html(results, summarize(results), page)
    assert not page.exists()


def test_report_html_option_writes_the_page(tmp_path: Path, photos):
    results = write_csv(tmp_path / "results.csv", [ok(str(photos["c1"]), "cat", 0.9)])

    result = runner.invoke(app, ["report", str(results), "--html", str(tmp_path / "r.html")])

    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and (tmp_path / "r.html").is_file()


def test_report_html_refuses_to_overwrite_the_csv(tmp_path: Path, photos):
    results = write_csv(tmp_path / "results.csv", [ok(str(photos["c1"]), "cat", 0.9)])
    before = results.read_bytes()

    result = runner.invoke(app, ["report", str(results), "--html", str(results)])

    assert result.exit_code == 2, result.output
    assert results.read_bytes() == before
