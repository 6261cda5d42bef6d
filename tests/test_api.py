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
    settings = catsort.RunSettings(exclude=("Exports/",))
    summary = catsort.sort_photos(photos, "move", model, settings=settings, dry_run=True)
    assert summary.placed == 1
    assert summary.not_entered == {
        photos / "Exports": "--exclude Exports/",
        photos / "Photos Library.photoslibrary": "an application's library",
    }
    assert summary.not_photo_rows() == [(".mov", 2), (".txt", 1)]
    names = [r.path.name for r in catsort.classify(photos, model, exclude=["Exports/"])]
    assert names == ["red.jpg"]
