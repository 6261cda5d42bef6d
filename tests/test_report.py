"""catsort report: reading results CSVs, the summary numbers, truth from folders, the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catsort.cli import app
from catsort.errors import USAGE, CatsortError
from catsort.report.read import read_results
from catsort.report.summary import summarize
from catsort.report.truth import truth_from_folders

runner = CliRunner()

HEADER = [
    "path",
    "label",
    "confidence",
    "p_cat",
    "p_dog",
    "pet_score",
    "status",
    "error",
    "destination",
]


def ok(path: str, label: str, confidence: float, pet: float = 0.9, dest: str = "") -> list[str]:
    """A row classify writes for a labelled photo (p_cat/p_dog follow from the confidence)."""
    p_cat = confidence if label == "cat" else 1 - confidence
    return [
        path,
        label,
        f"{confidence:.4f}",
        f"{p_cat:.4f}",
        f"{1 - p_cat:.4f}",
        f"{pet:.4f}",
        "ok",
        "",
        dest,
    ]


def failed(path: str, reason: str) -> list[str]:
    """A row classify writes for a photo it could not read."""
    return [path, "", "", "", "", "", "error", f"{path}: {reason}", ""]


KNOWN_ROWS = [
    ok("a/cats/c1.jpg", "cat", 0.95),
    ok("a/cats/c2.jpg", "cat", 0.80),
    ok("a/Dog/d1.jpg", "dog", 0.90),
    ok("a/dogs/d2.jpg", "cat", 0.70),  # a dog sorted as a cat
    ok("a/dogs/d3.jpg", "uncertain", 0.55),
    ok("a/misc/x.jpg", "other", 0.52, pet=0.05),
    failed("a/cats/bad.jpg", "empty file"),
    failed("a/misc/bad2.jpg", "empty file"),
    failed("a/misc/bad3.jpg", "not an image catsort can read"),
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    """Write a results CSV the way classify does."""
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def known_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "results.csv", KNOWN_ROWS)


# --- the summary ---------------------------------------------------------------------------------


def test_counts_and_percentages_cover_labels_uncertain_other_and_errors(known_csv: Path):
    summary = summarize(read_results(known_csv))

    assert summary.total == 9
    assert summary.labels == ["cat", "dog"]
    counts = {item.label: (item.count, item.percent) for item in summary.counts}
    assert counts == {
        "cat": (3, 33.33),
        "dog": (1, 11.11),
        "uncertain": (1, 11.11),
        "other": (1, 11.11),
        "errors": (3, 33.33),
    }


def test_histogram_bins_start_at_one_over_the_number_of_labels(known_csv: Path, tmp_path: Path):
    histograms = {h.label: h for h in summarize(read_results(known_csv)).histograms}

    assert histograms["cat"].low == 0.5 and histograms["cat"].high == 1.0
    # 0.70 belongs in [0.70, 0.75), the fifth bin, despite float rounding.
    assert histograms["cat"].counts == [0, 0, 0, 0, 1, 0, 1, 0, 0, 1]
    assert histograms["uncertain"].counts[1] == 1

    three = write_csv(
        tmp_path / "three.csv",
        [["x.jpg", "a", "0.34", "0.34", "0.33", "0.33", "", "ok", "", ""]],
        header=[
            "path",
            "label",
            "confidence",
            "p_a",
            "p_b",
            "p_c",
            "pet_score",
            "status",
            "error",
            "destination",
        ],
    )
    histogram = summarize(read_results(three)).histograms[0]
    assert histogram.low == pytest.approx(1 / 3, abs=1e-4)
    assert histogram.counts[0] == 1


def test_least_confident_lists_the_lowest_first_and_leaves_out_other(known_csv: Path):
    lowest = summarize(read_results(known_csv), lowest=3).lowest

    assert [(item.path, item.confidence) for item in lowest] == [
        ("a/dogs/d3.jpg", 0.55),
        ("a/dogs/d2.jpg", 0.70),
        ("a/cats/c2.jpg", 0.80),
    ]


def test_errors_are_grouped_by_reason_without_the_path(known_csv: Path):
    errors = summarize(read_results(known_csv)).errors

    assert [(group.reason, group.count) for group in errors] == [
        ("empty file", 2),
        ("not an image catsort can read", 1),
    ]
    assert errors[0].examples == ["a/cats/bad.jpg", "a/misc/bad2.jpg"]


def test_rows_whose_photo_is_gone_are_counted_and_the_summary_still_works(
    tmp_path: Path, make_photo
):
    make_photo(tmp_path / "sorted" / "cat" / "here.jpg")
    make_photo(tmp_path / "still.jpg")
    results = write_csv(
        tmp_path / "results.csv",
        [
            ok(
                str(tmp_path / "in" / "here.jpg"),
                "cat",
                0.9,
                dest=str(tmp_path / "sorted" / "cat" / "here.jpg"),
            ),  # moved: found at destination
            ok("still.jpg", "dog", 0.9),  # relative to the CSV's folder
            ok(str(tmp_path / "deleted.jpg"), "dog", 0.8),
            failed(str(tmp_path / "broken.jpg"), "broken link"),  # never there: not "gone"
        ],
    )

    summary = summarize(read_results(results))

    assert summary.total == 4
    assert summary.missing_images == 1


def test_the_ray_engines_urls_are_not_counted_missing(tmp_path: Path, make_photo):
    """file:// rows are found on disk; s3:// rows cannot be checked and are not called gone."""
    make_photo(tmp_path / "here.jpg")
    results = write_csv(
        tmp_path / "results.csv",
        [
            ok(f"file://{tmp_path / 'here.jpg'}", "cat", 0.9),
            ok(f"file://{tmp_path / 'deleted.jpg'}", "cat", 0.9),
            ok("s3://bucket/photos/IMG_0001.JPG", "dog", 0.9),
        ],
    )

    summary = summarize(read_results(results))

    assert summary.missing_images == 1


def test_odd_rows_are_read_without_failing(tmp_path: Path):
    results = tmp_path / "results.csv"
    results.write_bytes(
        "\ufeff".encode() + b",".join(h.encode() for h in HEADER) + b"\r\n"
        b"caf\xe9/cats/x.jpg,cat,0.9,0.9,0.1,,ok,,\r\n"  # Latin-1 byte in a file name
        b"y.jpg,,,,,,ok,,\r\n"  # ok without a label
        b"z.jpg,dog,n/a,0.2,0.8,,ok,,\r\n"  # confidence that is not a number
    )

    summary = summarize(read_results(results), truth=True)

    counts = {item.label: item.count for item in summary.counts}
    assert counts["cat"] == 1 and counts["dog"] == 1 and counts["errors"] == 1
    assert summary.errors[0].reason == "no label in the results CSV"
    assert summary.evaluation.evaluated == 1
    json.dumps(summary.to_dict())  # undecodable bytes stay escaped, not a crash


# --- truth from folders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, expected",
    [
        ("photos/cats/x.jpg", "cat"),
        ("photos/cat/x.jpg", "cat"),
        ("photos/Dog/x.jpg", "dog"),
        ("photos/DOGS/2019/x.jpg", "dog"),
        ("photos/dogs/cat/x.jpg", "cat"),  # the nearest folder wins
        (r"C:\Pictures\Cats\x.jpg", "cat"),
        ("photos/catalog/x.jpg", None),
        ("cats.jpg", None),  # a file name is not a folder
        ("photos/x.jpg", None),
    ],
)
def test_truth_comes_from_the_nearest_label_folder(path: str, expected: str | None):
    assert truth_from_folders(path, ["cat", "dog"]) == expected


def test_truth_understands_irregular_plurals():
    assert truth_from_folders("p/puppies/x.jpg", ["kitten", "puppy"]) == "puppy"
    assert truth_from_folders("p/foxes/x.jpg", ["fox", "hen"]) == "fox"


def test_evaluation_counts_uncertain_and_other_apart(known_csv: Path):
    evaluation = summarize(read_results(known_csv), truth=True).evaluation

    assert (evaluation.evaluated, evaluation.no_truth, evaluation.errors) == (5, 3, 1)
    assert (evaluation.decided, evaluation.correct) == (4, 3)
    assert evaluation.accuracy == 0.75  # over photos given cat or dog
    assert evaluation.coverage == 0.8  # d3 was uncertain
    assert evaluation.accuracy_all == 0.6
    scores = {score.label: (score.precision, score.recall) for score in evaluation.classes}
    assert scores == {"cat": (0.6667, 1.0), "dog": (1.0, 0.3333)}
    assert evaluation.confusion["dog"] == {"cat": 1, "dog": 1, "uncertain": 1, "other": 0}
    assert evaluation.columns == ["cat", "dog", "uncertain", "other"]


def test_evaluation_reads_the_original_path_not_the_destination(tmp_path: Path):
    results = write_csv(
        tmp_path / "results.csv",
        [
            ok("in/x.jpg", "cat", 0.9, dest="out/cats/x.jpg"),
            ok("in/dogs/y.jpg", "cat", 0.9, dest="out/cats/y.jpg"),
        ],
    )

    evaluation = summarize(read_results(results), truth=True).evaluation

    assert (evaluation.evaluated, evaluation.no_truth) == (1, 1)
    assert evaluation.accuracy == 0.0


# --- unusable input ------------------------------------------------------------------------------


def test_a_missing_file_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(CatsortError, match=r"nope\.csv: file not found") as info:
        read_results(tmp_path / "nope.csv")
    assert info.value.kind == USAGE


@pytest.mark.parametrize(
    "header, missing",
    [
        (
            ["file", "class", "score"],
            "path, label, confidence, status, error, destination, p_<label>",
        ),
        ([h for h in HEADER if h != "destination"], "destination"),
        (["path", "label", "confidence", "p_cat", "status", "error", "destination"], "p_<label>"),
    ],
)
def test_a_csv_that_is_not_from_catsort_names_the_missing_columns(
    tmp_path: Path, header: list[str], missing: str
):
    path = write_csv(tmp_path / "other.csv", [["x"] * len(header)], header=header)

    with pytest.raises(CatsortError) as info:
        read_results(path)

    message = str(info.value)
    assert "not a catsort results CSV" in message and f"missing columns: {missing}" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (",".join(HEADER).encode() + b"\r\n", "no photos"),
    ],
)
def test_an_empty_csv_is_refused(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "results.csv"
    path.write_bytes(content)

    with pytest.raises(CatsortError, match=reason):
        read_results(path)


def test_a_folder_is_not_a_csv(tmp_path: Path):
    with pytest.raises(CatsortError, match="is a folder"):
        read_results(tmp_path)


# --- the command ---------------------------------------------------------------------------------


def test_report_prints_counts_lowest_and_errors(known_csv: Path):
    result = runner.invoke(app, ["report", str(known_csv), "--lowest", "2"])

    assert result.exit_code == 0, result.output
    assert "33.3 %" in result.output  # cat and errors
    assert "a/dogs/d3.jpg" in result.output and "a/dogs/d2.jpg" in result.output
    assert "a/cats/c2.jpg" not in result.output  # third least confident: beyond --lowest 2
    assert "empty file" in result.output and "a/misc/bad2.jpg" in result.output
    assert "Accuracy" not in result.output


def test_report_with_truth_folders_prints_accuracy_and_confusion(known_csv: Path):
    result = runner.invoke(app, ["report", str(known_csv), "--truth", "folders"])

    assert result.exit_code == 0, result.output
    assert "Accuracy 75.0 %" in result.output
    assert "coverage 80.0 %" in result.output
    assert "Confusion" in result.output and "precision" in result.output


def test_report_json_is_the_summary(known_csv: Path):
    result = runner.invoke(app, ["report", str(known_csv), "--json", "--truth", "folders"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 9
    assert {item["label"]: item["count"] for item in data["counts"]}["errors"] == 3
    assert data["evaluation"]["accuracy"] == 0.75
    assert data["lowest"][0]["path"] == "a/dogs/d3.jpg"


def test_paths_that_look_like_markup_are_printed_as_they_are(tmp_path: Path):
    results = write_csv(tmp_path / "results.csv", [ok("[red]x[/red].jpg", "cat", 0.6)])

    result = runner.invoke(app, ["report", str(results)])

    assert result.exit_code == 0, result.output
    assert "[red]x[/red].jpg" in result.output


def test_a_column_added_by_hand_is_not_taken_for_a_label(tmp_path: Path):
    rows = [row + ["0.01"] for row in KNOWN_ROWS]
    results = read_results(write_csv(tmp_path / "results.csv", rows, HEADER + ["p_value"]))
    assert results.labels == ("cat", "dog")


def test_control_characters_in_file_names_never_reach_the_terminal(tmp_path: Path):
    # A name holding an escape sequence would recolour (or rewrite) the user's terminal.
    results = write_csv(
        tmp_path / "results.csv",
        [ok("esc\x1b[31mred.jpg", "cat", 0.6), ok("two\nlines.jpg", "dog", 0.7)],
    )

    result = runner.invoke(app, ["report", str(results)])

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "esc\\x1b[31mred.jpg" in result.output and "two\\nlines.jpg" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.csv"], "missing.csv: file not found"),
        (["wrong.csv"], "missing columns: path"),
        (["empty.csv"], "empty file"),
        (["good.csv", "--truth", "filenames"], "--truth filenames"),
    ],
)
def test_report_refuses_unusable_input_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "wrong.csv", [["1", "2"]], header=["name", "class"])
    (tmp_path / "empty.csv").write_bytes(b"")
    write_csv(tmp_path / "good.csv", KNOWN_ROWS)

    result = runner.invoke(app, ["report", *args])

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_skipped_photos_are_counted_apart_from_errors(tmp_path: Path):
    rows = [
        ok("a/c1.jpg", "cat", 0.9),
        failed("a/bad.jpg", "empty file"),
        ["a/dot.png", "", "", "", "", "", "skipped", "too small to tell (1x1 pixels)", ""],
    ]
    summary = summarize(read_results(write_csv(tmp_path / "r.csv", rows)))
    counts = {item.label: (item.kind, item.count) for item in summary.counts}
    assert counts["skipped"] == ("skipped", 1) and counts["errors"] == ("error", 1)
    assert [(g.reason, g.count) for g in summary.errors] == [("empty file", 1)]
    result = runner.invoke(app, ["report", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stdout


def test_tagged_photos_are_counted_and_a_csv_from_before_tagging_still_reads(tmp_path):
    older = summarize(read_results(write_csv(tmp_path / "old.csv", KNOWN_ROWS)))
    assert older.tagged == 0 and older.total == len(KNOWN_ROWS)
    rows = [row + ["a/cats/c1.xmp" if row[0] == "a/cats/c1.jpg" else ""] for row in KNOWN_ROWS]
    rows[-1][-1] = "a/misc/bad3.xmp"  # an error row: its keyword was never written
    newer = read_results(write_csv(tmp_path / "new.csv", rows, HEADER + ["sidecar"]))
    assert summarize(newer).tagged == 1
    shown = runner.invoke(app, ["report", str(tmp_path / "new.csv")])
    assert "1 photo(s) tagged" in shown.stdout


def test_the_api_example_reads_a_results_csv(known_csv: Path, monkeypatch, capsys):
    from conftest import docstring_example

    import catsort

    monkeypatch.chdir(known_csv.parent)
    exec(docstring_example(catsort.read_results), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "a/cats/c1.jpg cat 0.95 "
    assert lines[6] == "a/cats/bad.jpg a/cats/bad.jpg: empty file None "
    assert lines[-1] == "9"  # the summary's total
