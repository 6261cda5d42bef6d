"""Training data without TensorFlow: the folder layout, the decoded photos, the run folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from catsort.training import data as datasets
from catsort.training import photos, runs
from PIL import Image

from catsort.errors import CatsortError
from catsort.images import load_image


def make_classes(root: Path, counts: dict[str, int], seed: int = 0) -> Path:
    """Class folders of small noisy JPEGs, each photo different: {"cats": 10, ...}."""
    rng = np.random.default_rng(seed)
    for name, count in counts.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{index}.jpg")
    return root


def names(files: list[tuple[Path, int]], root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path, _ in files}


# --- the layout -------------------------------------------------------------------------------


def test_a_run_inside_the_data_folder_is_left_out_and_said(tmp_path: Path) -> None:
    data = make_classes(tmp_path / "messy", {"chats été": 10, "chiens 🐶": 10})
    inside = data / "run_inside"  # a finished run: --output messy/run_inside
    inside.mkdir()
    (inside / "catsort.json").write_text("{}")
    Image.new("RGB", (20, 20)).save(inside / "training_photos.jpg")
    nested = data / "chats été" / "old.partial"  # an unfinished run inside a class folder
    nested.mkdir()
    (nested / runs.RUN_STATE).write_text("{}")
    Image.new("RGB", (20, 20)).save(nested / "augmentation.jpg")
    runs_folder = data / "runs" / "20261203-090507"  # the default output, run from inside
    runs_folder.mkdir(parents=True)
    (runs_folder / "model.keras").write_text("")
    Image.new("RGB", (20, 20)).save(runs_folder / "test_predictions.jpg")

    files = datasets.list_files(data)

    assert files.class_dirs == ["chats été", "chiens 🐶"]
    every = names(files.all(), data)
    assert len(every) == 20 and not any("run" in name or "partial" in name for name in every)
    said = "\n".join(files.notes)
    assert f"{inside}: left out, it holds a catsort run" in said
    assert f"{nested}: left out, it holds a catsort run" in said
    assert f"{data / 'runs'}: left out, it holds only catsort runs" in said


def test_the_output_of_this_run_is_left_out_before_it_exists(tmp_path: Path) -> None:
    data = make_classes(tmp_path / "data", {"cats": 10, "dogs": 10})
    make_classes(data, {"out": 3})  # photos where the run will write
    files = datasets.list_files(data, leave_out=[data / "out"])
    assert files.class_dirs == ["cats", "dogs"]
    assert any("out: left out" in note for note in files.notes)


def test_a_train_folder_alone_is_split(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_classes(root / "train", {"cats": 10, "dogs": 10})
    files = datasets.list_files(root)
    assert files.class_dirs == ["cats", "dogs"]
    assert (len(files.train), len(files.validation), len(files.test)) == (16, 2, 2)
    assert any("no validation/ folder beside train/" in note for note in files.notes)


def test_a_class_too_small_to_test_is_named_with_what_it_needs(tmp_path: Path) -> None:
    data = make_classes(tmp_path / "data", {"cats": 10, "dogs": 10, "rabbits": 3})
    with pytest.raises(CatsortError) as error:
        datasets.list_files(data)
    message = str(error.value)
    assert "rabbits (3 photos: 2 to train, 1 to validate, 0 to test" in message
    assert f"it needs at least {datasets.photos_needed(0.2, 0.5)} photos" in message
    assert "cats" not in message
    assert datasets.photos_needed(0.2, 0.5) == 8
    # With that many it is trained, validated and tested.
    make_classes(data, {"rabbits": 8}, seed=1)
    files = datasets.list_files(data)
    assert {index for _, index in files.test} == {0, 1, 2}


def test_a_fixed_validation_folder_too_small_for_a_test_photo_is_named(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_classes(root / "train", {"cats": 4, "dogs": 4})
    make_classes(root / "validation", {"cats": 2, "dogs": 1}, seed=1)
    with pytest.raises(CatsortError, match=r"dogs \(5 photos: 4 to train, 1 to validate, 0 to"):
        datasets.list_files(root)


def test_unequal_classes_are_weighted_and_said(tmp_path: Path) -> None:
    files = datasets.list_files(make_classes(tmp_path / "a", {"cats": 40, "dogs": 10}))
    weights, said = datasets.class_weights(files)
    assert weights is not None and said is not None
    assert "cats 32, dogs 8 training photos, 4.0 to 1" in said
    assert weights == pytest.approx([40 / (2 * 32), 40 / (2 * 8)])
    even = datasets.list_files(make_classes(tmp_path / "b", {"cats": 12, "dogs": 10}))
    assert datasets.class_weights(even) == (None, None)


def test_several_data_folders_add_up_and_copies_count_once(tmp_path: Path) -> None:
    first = make_classes(tmp_path / "first", {"cats": 10, "dogs": 10})
    second = make_classes(tmp_path / "second", {"cats": 10, "rabbits": 10}, seed=1)
    copied = second / "dogs"  # copies of first's dogs, under other names
    copied.mkdir()
    for index in range(3):
        (copied / f"copy{index}.jpg").write_bytes((first / "dogs" / f"{index}.jpg").read_bytes())
    clash = second / "cats" / "is-a-dog.jpg"  # one of first's dogs filed as a cat
    clash.write_bytes((first / "dogs" / "5.jpg").read_bytes())

    files = datasets.list_files([first, second, first])  # first twice: all copies

    assert files.class_dirs == ["cats", "dogs", "rabbits"]
    every = [path for path, _ in files.all()]
    # first's 20 photos and second's 20, less first's dog that second files as a cat
    assert len(every) == len(set(every)) == 39
    assert not any(path.parent == copied for path in every)
    assert clash not in every and first / "dogs" / "5.jpg" not in every
    said = "\n".join(files.notes)
    assert "22 files are copies of others (the same bytes): each counted once" in said
    assert "the same photo in class folders cats, dogs; left out" in said
    assert files.roots == [first, second, first]


def test_the_data_sets_cats_and_the_reviews_cat_are_one_class(tmp_path: Path) -> None:
    public = tmp_path / "public"  # as cats_and_dogs_filtered: train/ and validation/
    make_classes(public / "train", {"cats": 10, "dogs": 10})
    make_classes(public / "validation", {"cats": 4, "dogs": 4}, seed=2)
    mine = make_classes(tmp_path / "mine", {"cat": 8, "Dog": 8}, seed=1)  # review --export

    files = datasets.list_files([public, mine])

    assert files.class_dirs == ["cats", "dogs"] and len(files.all()) == 44
    assert datasets.default_labels(files.class_dirs) == ("cat", "dog")
    dogs = {path.parent for path, index in files.all() if index == 1}
    assert dogs == {public / "train" / "dogs", public / "validation" / "dogs", mine / "Dog"}
    assert "class folders Dog, dogs: one class, dogs" in files.notes


def test_the_fingerprint_ignores_where_the_data_lives(tmp_path: Path) -> None:
    data = make_classes(tmp_path / "here", {"cats": 10, "dogs": 10})
    before = datasets.fingerprint(datasets.list_files(data).all(), data)
    moved = data.rename(tmp_path / "there")
    assert datasets.fingerprint(datasets.list_files(moved).all(), [moved]) == before


def test_the_fingerprint_of_a_relative_data_folder_is_its_own(tmp_path: Path, monkeypatch) -> None:
    # As `catsort train --data ../shared/...` records it, for `convert RUN` to check later.
    data = make_classes(tmp_path / "data", {"cats": 10, "dogs": 10})
    before = datasets.fingerprint(datasets.list_files(data).all(), data)
    monkeypatch.chdir(tmp_path / "data")
    relative = Path("..") / "data"
    assert datasets.fingerprint(datasets.list_files(relative).all(), [relative]) == before


def test_paths_are_absolute_whatever_was_given(tmp_path: Path, monkeypatch) -> None:
    make_classes(tmp_path / "data", {"cats": 10, "dogs": 10})
    monkeypatch.chdir(tmp_path)
    files = datasets.list_files(Path("data"))
    assert files.roots == [tmp_path / "data"]
    assert all(path.is_absolute() for path, _ in files.all())


# --- decoded photos ---------------------------------------------------------------------------


def test_decoded_photos_read_back_as_load_image_gives_them(tmp_path: Path) -> None:
    data = make_classes(tmp_path / "data", {"cats": 4, "dogs": 4})
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    files = [(path, 0) for path in sorted(data.rglob("*.jpg"))] + [(broken, 0)]
    warnings: list[str] = []
    done: list[int] = []
    decoded = photos.decode(files, (16, 12), tmp_path / "train.u8", warnings.append, done.append)
    assert len(decoded) == len(files) - 1 and sum(done) == len(files)
    assert len(warnings) == 1 and "broken.jpg" in warnings[0]
    assert (tmp_path / "train.u8").stat().st_size == len(decoded) * 16 * 12 * 3
    for index in (0, len(decoded) - 1):
        np.testing.assert_array_equal(
            decoded.pixels(index), load_image(decoded.paths[index], (16, 12))
        )
    batches = list(decoded.batches(3))
    assert [len(b) for b in batches] == [3, 3, 2] and batches[0].shape == (3, 16, 12, 3)
    picked = decoded.subset([6, 0])
    assert picked.paths == [decoded.paths[6], decoded.paths[0]]
    np.testing.assert_array_equal(picked.pixels(0), decoded.pixels(6))


def test_decoded_photos_are_reused_and_redone_when_the_files_change(
    tmp_path: Path, monkeypatch
) -> None:
    data = make_classes(tmp_path / "data", {"cats": 3, "dogs": 3})
    files = [(path, 0) for path in sorted(data.rglob("*.jpg"))]
    store = tmp_path / "train.u8"
    first = photos.decode(files, (8, 8), store)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(photos, "load_image", no_decoding)
    again = photos.decode(files, (8, 8), store)
    np.testing.assert_array_equal(again.take(range(6)), first.take(range(6)))
    monkeypatch.undo()
    Image.new("RGB", (30, 30), (255, 0, 0)).save(files[0][0])  # changed: decoded again
    red = photos.decode(files, (8, 8), store).pixels(0)
    assert red[..., 0].min() > 200 and red[..., 2].max() < 60


def test_decoding_holds_a_few_photos_not_the_data_set(tmp_path: Path) -> None:
    import tracemalloc

    data = make_classes(tmp_path / "data", {"cats": 150, "dogs": 150})
    files = [(path, 0) for path in sorted(data.rglob("*.jpg"))]
    size = (64, 64)
    whole = len(files) * size[0] * size[1] * 3  # 3.7 MB decoded
    tracemalloc.start()
    try:
        decoded = photos.decode(files, size, tmp_path / "train.u8", workers=2)
        for batch in decoded.batches(16):
            assert len(batch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(decoded) == 300
    assert peak < whole / 4, f"{peak / 1e6:.1f} MB held, the data set is {whole / 1e6:.1f} MB"


# --- run folders --------------------------------------------------------------------------------


def test_an_unfinished_run_is_refused_as_an_output_until_resumed_or_overwritten(
    tmp_path: Path,
) -> None:
    out = tmp_path / "runA"
    work = runs.start(out, {"epochs_done": 1})
    assert work == tmp_path / "runA.partial" and runs.read_state(work) == {"epochs_done": 1}
    with pytest.raises(CatsortError, match=r"runA.partial: an unfinished run .* --resume"):
        runs.check_output(out)
    runs.check_output(out, overwrite=True)
    assert runs.unfinished(out) == work and runs.unfinished(work) == work
    assert runs.new_run_folder(tmp_path) != out


def test_a_finished_run_takes_its_name_and_drops_what_resuming_needed(tmp_path: Path) -> None:
    out = tmp_path / "runA"
    work = runs.start(out, {})
    (work / runs.CHECKPOINT).write_text("weights")
    (work / runs.DECODED).mkdir()
    (work / runs.DECODED / "train.u8").write_bytes(b"pixels")
    (work / "catsort.json").write_text("{}")
    runs.finish(work, out)
    assert sorted(p.name for p in out.iterdir()) == ["catsort.json"]
    assert not work.exists()
    with pytest.raises(CatsortError, match="this run finished; there is nothing to resume"):
        runs.unfinished(out)
    # Into a folder that holds a model (--overwrite): same names replaced, the rest kept.
    (out / "README").write_text("kept")
    work = runs.start(out, {})
    (work / "catsort.json").write_text('{"new": 1}')
    runs.finish(work, out)
    assert (out / "catsort.json").read_text() == '{"new": 1}' and (out / "README").exists()


def test_a_failed_runs_folder_holds_nothing_a_model_would_take(tmp_path: Path) -> None:
    work = runs.start(tmp_path / "runA", {})
    for name in ("catsort.json", "catsort.tflite", "catsort-float32.json", "model.keras"):
        (work / name).write_text("x")
    runs.discard_models(work)
    assert sorted(p.name for p in work.iterdir()) == ["model.keras", runs.RUN_STATE]
    line = runs.kept_line(work, 3, 20)
    assert "the checkpoint after epoch 3 of 20, no model to classify with" in line
    assert f"catsort train --resume {work}" in line


def test_a_run_killed_while_exporting_is_not_taken_for_a_model(
    tmp_path: Path, tiny_model: Path
) -> None:
    """Killed (not stopped) after writing a model: --model still refuses the unfinished run."""
    import shutil

    from typer.testing import CliRunner

    import catsort
    from catsort.cli import app

    work = runs.start(tmp_path / "runA", {"epochs_done": 2})
    for path in tiny_model.iterdir():
        shutil.copy(path, work / path.name)  # a model that never passed the export check
    photo = tmp_path / "photos" / "a.jpg"
    photo.parent.mkdir()
    Image.new("RGB", (20, 20)).save(photo)
    for model in (work, work / "catsort.json", work / "catsort.tflite"):
        result = CliRunner().invoke(app, ["classify", str(photo.parent), "--model", str(model)])
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert f"{work}: an unfinished catsort train run, not a model" in text
        assert f"go on with it with catsort train --resume {work}" in text
    with pytest.raises(CatsortError, match="unfinished catsort train run"):
        catsort.load_model(work)
    assert catsort.load_model(tiny_model).metadata.labels  # a finished one loads


def test_the_summary_speaks_in_percentages_and_megabytes() -> None:
    rows = dict(
        runs.summary_rows(
            {
                "keras_test_accuracy": 0.7778,
                "tflite_test_accuracy": 0.8333,
                "test_confident_share": 0.5,
                "test_gated_out_share": None,
                "test_disagreements": 1,
                "size_bytes": 3140304,
                "ms_per_image": 1.55,
            }
        )
    )
    assert rows == {
        "Keras test accuracy (as exported)": "77.8%",
        "test accuracy": "83.3%",
        "test photos acted on (confident)": "50.0%",
        "test photos Keras labels otherwise": "1",
        "model size": "3.1 MB",
        "time per photo (one thread)": "1.6 ms",
    }


# --- quiet ---------------------------------------------------------------------------------------


def test_native_log_lines_are_dropped_and_the_rest_passes(tmp_path: Path) -> None:
    script = """
import os, sys
from catsort.training.logs import filtered_stderr
with filtered_stderr():
    os.write(2, b"I0000 00:00:1796458073.664460   13137 port.cc:153] oneDNN custom operations\\n")
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called\\n")
    os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32\\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    os.write(2, b"E0000 a real error\\n")
    print("catsort's own line", file=sys.stderr)
print("after", file=sys.stderr)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    # What passes the filter arrives through a thread, so in either order with the own line.
    lines = done.stderr.splitlines()
    assert sorted(lines[:2]) == ["E0000 a real error", "catsort's own line"]
    assert lines[2:] == ["after"]
