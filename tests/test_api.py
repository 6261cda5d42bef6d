"""The Python API (its documentation and examples: tests/test_docs.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import catsort


def test_importing_catsort_loads_neither_typer_nor_rich() -> None:
    code = (
        "import sys, catsort; catsort.classify; catsort.sort_photos; "
        "print(sorted(m for m in ('typer', 'rich', 'tensorflow') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_a_training_package_in_the_current_folder_is_not_taken_for_catsorts(
    tmp_path: Path,
) -> None:
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "__init__.py").write_text("raise ImportError('the wrong training')")
    code = "import catsort.training as t; print(t.__file__)"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert Path(run.stdout.strip()).parent.parent != tmp_path
    assert Path(run.stdout.strip()).name == "__init__.py"


def test_classify_yields_typed_results_and_error_rows(tmp_path: Path, make_photo, tiny_model):
    model = catsort.load_model(tiny_model)
    make_photo(tmp_path / "a-cat.jpg", (230, 20, 20))
    (tmp_path / "b-broken.jpg").write_bytes(b"not a photo")
    results = list(catsort.classify(tmp_path, model))
    assert [r.path.name for r in results] == ["a-cat.jpg", "b-broken.jpg"]
    cat, broken = results
    assert (cat.status, cat.label, cat.error) == ("ok", "cat", None)
    assert cat.probabilities["cat"] == cat.confidence > 0.6
    assert (broken.status, broken.label, broken.probabilities) == ("error", None, {})
    assert broken.error and "\n" not in broken.error


def test_sort_photos_moves_and_undo_puts_back(tmp_path: Path, make_photo, tiny_model, read_tree):
    model = catsort.load_model(tiny_model)
    make_photo(tmp_path / "photos" / "red.jpg", (230, 20, 20))
    make_photo(tmp_path / "photos" / "blue.jpg", (20, 20, 230))
    before = read_tree(tmp_path / "photos")
    summary = catsort.sort_photos(tmp_path / "photos", "move", model)
    assert summary.exit_code == 0 and summary.placed == 2
    assert sorted(read_tree(tmp_path / "photos")) == ["cat/red.jpg", "dog/blue.jpg"]
    assert summary.journal is not None
    undone = catsort.undo(summary.journal)
    assert len(undone.restored) == 2 and not undone.skipped
    assert read_tree(tmp_path / "photos") == before


def test_tag_photos_writes_sidecars_in_place_and_undo_removes_them(
    tmp_path: Path, make_photo, tiny_model, read_tree
):
    model = catsort.load_model(tiny_model)
    make_photo(tmp_path / "photos" / "red.jpg", (230, 20, 20))
    before = read_tree(tmp_path / "photos")
    settings = catsort.TagSettings(prefix="Pets", naming="ext.xmp")
    summary = catsort.tag_photos(tmp_path / "photos", model, tag=settings)
    assert summary.exit_code == 0 and summary.tagged == 1 and summary.placed == 0
    assert sorted(read_tree(tmp_path / "photos")) == ["red.jpg", "red.jpg.xmp"]
    assert b"<rdf:li>Pets|Cat</rdf:li>" in (tmp_path / "photos" / "red.jpg.xmp").read_bytes()
    assert summary.journal is not None
    undone = catsort.undo(summary.journal)
    assert undone.sidecars == [tmp_path / "photos" / "red.jpg.xmp"] and not undone.skipped
    assert read_tree(tmp_path / "photos") == before


def test_sort_photos_refuses_an_unknown_action(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'move' or 'copy'"):
        catsort.sort_photos(tmp_path, "delete")  # type: ignore[arg-type]


def test_a_missing_path_is_a_catsort_error(tmp_path: Path) -> None:
    with pytest.raises(catsort.CatsortError, match="no such file or folder"):
        list(catsort.classify(tmp_path / "nowhere"))


def test_a_gate_threshold_for_a_model_without_a_gate_is_refused(tmp_path, tiny_models):
    model = catsort.load_model(tiny_models["softmax"])
    with pytest.raises(catsort.CatsortError, match="no pet gate"):
        list(catsort.classify(tmp_path, model, gate_threshold=0.5))


def test_sort_photos_takes_the_companions_along_and_flat_drops_the_folders(
    tmp_path: Path, make_photo, tiny_model
):
    make_photo(tmp_path / "lib" / "2019" / "IMG.JPG", (230, 20, 20))
    (tmp_path / "lib" / "2019" / "IMG.CR2").write_bytes(b"raw")
    model = catsort.load_model(tiny_model)
    seen: list[catsort.PhotoResult] = []
    summary = catsort.sort_photos(tmp_path / "lib", "copy", model, on_result=seen.append)
    assert (summary.placed, summary.companions) == (1, 1)
    (result,) = seen
    assert result.companions == (
        catsort.Companion(
            tmp_path / "lib" / "2019" / "IMG.CR2", tmp_path / "lib" / "cat" / "2019" / "IMG.CR2"
        ),
    )
    flat = catsort.sort_photos(tmp_path / "lib", "copy", model, dest=tmp_path / "flat", flat=True)
    assert flat.placed == 1
    assert sorted(p.name for p in (tmp_path / "flat" / "cat").iterdir()) == ["IMG.CR2", "IMG.JPG"]


def test_the_summary_tells_what_the_walk_left_alone(tmp_path: Path, make_photo, tiny_model):
    model = catsort.load_model(tiny_model)
    photos = tmp_path / "photos"
    make_photo(photos / "red.jpg", (230, 20, 20))
    make_photo(photos / "Photos Library.photoslibrary" / "originals" / "x.jpg", (230, 20, 20))
    make_photo(photos / "Exports" / "web.jpg", (230, 20, 20))
    for name in ("a.mov", "b.mov", "notes.txt"):
        (photos / name).write_bytes(b"")
    settings = catsort.RunSettings(exclude=("Exports/",), videos=False)
    summary = catsort.sort_photos(photos, "move", model, settings=settings, dry_run=True)
    assert summary.placed == 1
    assert summary.not_entered == {
        photos / "Exports": "--exclude Exports/",
        photos / "Photos Library.photoslibrary": "an application's library",
    }
    assert summary.not_photo_rows() == [(".mov", 2), (".txt", 1)]
    assert summary.video_rows() == [(".mov", 2)]
    results = catsort.classify(photos, model, exclude=["Exports/"], videos=False)
    names = [r.path.name for r in results]
    assert names == ["red.jpg"]


# --- the API refuses what the command line refuses, naming its own fields ---------------------

# (the command line's arguments, the API call, what the API's error says)
REFUSED = [
    (
        ["classify", "--no-gate", "--gate-threshold", "0.5"],
        lambda lib, model: catsort.classify(lib, model, use_gate=False, gate_threshold=0.5),
        "gate_threshold= and use_gate=False cannot be used together",
    ),
    (
        ["classify", "--threshold", "1.5"],
        lambda lib, model: catsort.classify(lib, model, threshold=1.5),
        "threshold=1.5: must be a number from 0 to 1",
    ),
    (
        ["classify", "--threshold", "nan"],
        lambda lib, model: catsort.classify(lib, model, threshold=float("nan")),
        "threshold=nan: must be a number from 0 to 1",
    ),
    (
        ["classify", "--batch-size", "0"],
        lambda lib, model: catsort.sort_photos(
            lib, "move", model, settings=catsort.RunSettings(batch_size=0)
        ),
        "batch_size=0: must be at least 1",
    ),
    (
        ["classify", "--threads", "0"],
        lambda lib, model: catsort.sort_photos(
            lib, "copy", model, settings=catsort.RunSettings(workers=0)
        ),
        "workers=0: must be at least 1",
    ),
    (
        ["classify", "--dest", "elsewhere"],
        lambda lib, model: catsort.api.plan_run(lib, model, dest="elsewhere"),
        "dest= needs action='move' or 'copy'",
    ),
    (
        ["classify", "--move", "--dest", "notes.txt"],
        lambda lib, model: catsort.sort_photos(lib, "move", model, dest="notes.txt"),
        "dest=notes.txt: is a file, not a folder",
    ),
    (
        ["classify", "--tag", "--sidecar", "jpg.xmp"],
        lambda lib, model: catsort.tag_photos(
            lib, model, tag=catsort.TagSettings(naming="jpg.xmp")
        ),
        "naming=jpg.xmp: choose one of auto, xmp, ext.xmp",
    ),
    (
        ["watch", "--settle", "-1"],
        lambda lib, model: catsort.watch(lib, model, watching=catsort.WatchSettings(settle=-1)),
        "settle=-1: must be 0 seconds or more",
    ),
    (
        ["watch", "--no-gate", "--gate-threshold", "0.5", "--move"],
        lambda lib, model: catsort.watch(
            lib,
            model,
            action="move",
            settings=catsort.RunSettings(use_gate=False, gate_threshold=0.5),
        ),
        "gate_threshold= and use_gate=False cannot be used together",
    ),
]


@pytest.mark.parametrize(("args", "call", "message"), REFUSED, ids=lambda case: str(case)[:40])
def test_the_api_refuses_what_the_command_line_refuses(
    tmp_path, monkeypatch, make_photo, tiny_model, read_tree, args, call, message
):
    from typer.testing import CliRunner

    from catsort.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("a file")
    library = make_photo(tmp_path / "lib" / "x.jpg").parent
    before = read_tree(tmp_path)
    command = CliRunner().invoke(app, [*args, "--model", str(tiny_model), str(library)])
    assert command.exit_code == 2, command.output
    with pytest.raises(catsort.CatsortError) as info:
        list(call(library, catsort.load_model(tiny_model)) or ())
    assert str(info.value) == message
    assert read_tree(tmp_path) == before


def test_the_command_line_names_its_options_where_the_api_names_fields(tmp_path, tiny_model):
    from typer.testing import CliRunner

    from catsort.cli import app

    (tmp_path / "lib").mkdir()
    result = CliRunner().invoke(
        app, ["classify", "--no-gate", "--gate-threshold", "0.5", str(tmp_path / "lib")]
    )
    assert result.exit_code == 2
    assert "Error: --gate-threshold and --no-gate cannot be used together" in result.stderr
    result = CliRunner().invoke(
        app,
        ["classify", str(tmp_path / "lib"), str(tmp_path), "--move", "--model", str(tiny_model)],
    )
    assert "choose where the label folders go with --dest DIR" in result.stderr


def test_classify_reads_what_it_classified_before_from_the_results_cache(
    tmp_path, make_photo, tiny_model
):
    model = catsort.load_model(tiny_model)
    make_photo(tmp_path / "lib" / "x.jpg")
    first = list(catsort.classify(tmp_path / "lib", model))
    again = list(catsort.classify(tmp_path / "lib", model))
    assert [r.cached for r in first] == [False] and [r.cached for r in again] == [True]
    assert again[0].probabilities == pytest.approx(first[0].probabilities)
    assert not list(tmp_path.rglob(".catsort")), "a classify writes nothing among the photos"
    assert [r.cached for r in catsort.classify(tmp_path / "lib", model, cache=False)] == [False]


def test_without_pyav_videos_are_refused_naming_how_to_leave_them_alone(
    tmp_path, monkeypatch, tiny_model
):
    import importlib.util

    from typer.testing import CliRunner

    from catsort.cli import app

    # PyAV is installed with catsort: a broken install is mimicked by hiding it from the check.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "av" else find_spec(name, *a)
    )
    (tmp_path / "lib").mkdir()
    model = catsort.load_model(tiny_model)
    with pytest.raises(catsort.CatsortError, match=r"pip install av, .* with videos=False$"):
        list(catsort.classify(tmp_path / "lib", model))
    assert list(catsort.classify(tmp_path / "lib", model, videos=False)) == []
    result = CliRunner().invoke(
        app, ["classify", "--model", str(tiny_model), str(tmp_path / "lib")]
    )
    assert result.exit_code == 2
    assert "leave videos alone with --no-videos" in result.stderr
