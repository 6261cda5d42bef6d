"""Training: the recipe's facts, a smoke run end to end, and bad training data."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from catsort.cli import app
from catsort.errors import CatsortError

pytest.importorskip(
    "tensorflow", reason="training tests need TensorFlow: pip install 'catsort[train]'"
)

import keras
from catsort.training import data as datasets

pytestmark = pytest.mark.training

runner = CliRunner()
COLOURS = {"cats": (200, 60, 50), "dogs": (50, 60, 200)}


def make_dataset(root: Path, per_class: int = 6, size: int = 40) -> Path:
    """Write train/ and validation/ folders of small noisy single-colour JPEGs."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("validation", per_class)):
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (size, size, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{name}.{index}.jpg")
    return root


def test_recipe_parameter_counts_at_160() -> None:
    from catsort.training import recipe

    model, base = recipe.build_model((160, 160), 2, weights=None)
    stage1 = recipe.parameter_counts(model)
    assert (stage1["trainable"], stage1["frozen"]) == (1_281, 2_257_984)
    recipe.unfreeze_from(base, 100)
    stage2 = recipe.parameter_counts(model)
    assert (stage2["trainable"], stage2["trainable_variables"]) == (1_862_721, 56)
    assert len(base.layers) == 154


def test_smoke_training_exports_a_model_classify_runs(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--output",
            str(out),
            "--weights",
            "none",
            "--img-size",
            "32",
            "--epochs",
            "1",
            "--fine-tune-epochs",
            "1",
            "--no-figures",
        ],
    )
    assert result.exit_code == 0, result.output
    metadata = json.loads((out / "catsort.json").read_text())
    assert metadata["labels"] == ["cat", "dog"]
    assert metadata["input"]["height"] == 32
    assert metadata["quantization"] == "int8"
    assert 0.5 <= metadata["threshold"] <= 1.0
    assert 0.0 <= metadata["gate"]["threshold"] <= 1.0
    # The default gate: Mahalanobis on the original MobileNetV2's upper layers, here with random
    # weights (--weights none), which give the branch meaningless features; only the range holds.
    assert (
        metadata["gate"]["kind"],
        metadata["gate"]["features"],
        metadata["gate"]["branch_from_layer"],
    ) == ("mahalanobis", 1280, 100)
    assert metadata["second_opinion"]["l2"] > 0
    assert metadata["parameters"]["stage1"]["trainable"] == 1_281
    assert metadata["data"]["train_images"] == 12
    assert metadata["data"]["roots"] == [str(data)] and Path(metadata["data"]["root"]).is_absolute()
    assert metadata["training"]["data"] == [str(data)]
    assert not (tmp_path / "model.partial").exists()  # renamed once it succeeded
    assert set(metadata["metrics"]) >= {"keras_test_accuracy", "tflite_test_accuracy"}
    assert (out / "catsort-float32.tflite").is_file()
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2  # one epoch per stage, counted on

    csv_path = tmp_path / "results.csv"
    classified = runner.invoke(
        app,
        [
            "classify",
            str(data / "validation"),
            "--model",
            str(out),
            "--csv",
            str(csv_path),
            "--quiet",
        ],
    )
    assert classified.exit_code == 0, classified.output
    assert len(csv_path.read_text().splitlines()) == 1 + 12

    # The run can be exported again from its model.keras without training, here without the gate.
    from catsort.training.convert import convert_run

    from catsort.model import load_model

    again = tmp_path / "again"
    convert_run(out, again, with_gate=False)
    assert (again / "history.json").read_text() == (out / "history.json").read_text()
    reloaded = load_model(again)
    assert not reloaded.has_gate and reloaded.metadata.input_size == (32, 32)

    # ... and with the kNN gate on the fine-tuned features.
    knn = tmp_path / "knn"
    convert_run(out, knn, gate_kind="knn")
    gated = load_model(knn)
    assert gated.has_gate
    gate_info = json.loads((knn / "catsort.json").read_text())["gate"]
    assert (gate_info["kind"], gate_info["bank"], gate_info["k"]) == ("knn", 12, 1)
    assert 0.0 <= gate_info["threshold"] <= 1.0
    scores = gated.predict(np.zeros((2, 32, 32, 3), np.uint8)).pet_score
    assert scores is not None and scores.shape == (2,)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "data folder not found"),
        ({"train/cats": 2, "validation/cats": 2}, "need at least two class folders"),
        ({"train/cats": 2, "train/dogs": 0, "validation/cats": 1}, "has no images"),
    ],
    ids=["missing", "one-class", "empty-class"],
)
def test_bad_data_folders_are_one_line_errors(tmp_path: Path, layout: dict, message: str) -> None:
    root = tmp_path / "data"
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True)
        for index in range(count):
            Image.new("RGB", (16, 16)).save(root / folder / f"{index}.jpg")
    result = runner.invoke(
        app, ["train", "--data", str(root), "--weights", "none", "--output", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_checks_that_need_no_training_fail_before_it(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=2)
    (tmp_path / "taken").write_text("a file where the output folder would go")
    missing_dogs = make_dataset(tmp_path / "data2", per_class=2)
    for photo in (missing_dogs / "validation" / "dogs").iterdir():
        photo.write_text(f"unreadable {photo.name}")  # not copies of each other
    for args, message in [
        (["--data", str(data), "--output", str(tmp_path / "taken")], "taken: is a file"),
        (["--data", str(tmp_path / "taken")], "taken: is a file; give --data a folder"),
        (["--data", str(missing_dogs)], "no readable validation images for dog"),
        (["--data", str(data), "--gate", "nope"], "unknown gate 'nope'; use knn or mahalanobis"),
    ]:
        result = runner.invoke(
            app,
            [
                "train",
                "--weights",
                "none",
                "--img-size",
                "32",
                "--output",
                str(tmp_path / "out"),
                *args,
            ],
        )
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
        assert not list(tmp_path.glob("out*"))  # it stopped before training, leaving nothing


def test_a_failed_download_is_one_line_with_the_offline_option(tmp_path: Path, monkeypatch) -> None:
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid/x.h5: None -- no network")

    monkeypatch.setattr(file_utils, "get_file", offline)
    monkeypatch.setattr(keras.utils, "get_file", offline)
    data = make_dataset(tmp_path / "data", per_class=2)
    for args, message in [
        (["--data", str(data)], "cannot download the ImageNet weights (URL fetch failure"),
        (["--weights", "none"], "cannot download cats_and_dogs_filtered (URL fetch failure"),
    ]:
        result = runner.invoke(
            app, ["train", "--img-size", "32", "--output", str(tmp_path / "out"), *args]
        )
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


def test_too_few_held_out_photos_for_a_test_set_is_refused_before_training(
    tmp_path: Path,
) -> None:
    root = make_dataset(tmp_path / "data", per_class=1)  # one held-out photo per class
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(root),
            "--weights",
            "none",
            "--img-size",
            "32",
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "too few photos to train, validate and test every class: cats (2 photos" in text
    assert "1 to validate, 0 to test; it needs at least 1 photo in train/ and 2 in" in text
    assert "Loading images" not in text and not list(tmp_path.glob("out*"))


def test_a_val_folder_counts_as_validation(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", per_class=2)
    (root / "validation").rename(root / "val")
    files = datasets.list_files(root)
    assert files.class_dirs == ["cats", "dogs"]  # not two classes called train and val
    assert len(files.validation) + len(files.test) == 4


def test_wrong_weights_file_is_a_one_line_error(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=2)
    bogus = tmp_path / "weights.h5"
    bogus.write_bytes(b"not an HDF5 file")
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--weights",
            str(bogus),
            "--img-size",
            "32",
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "weights.h5" in result.output and "MobileNetV2" in result.output


def test_labels_default_to_singular_folder_names() -> None:
    assert datasets.default_labels(["cats", "dogs"]) == ("cat", "dog")
    assert datasets.default_labels(["puppies", "kittens"]) == ("puppy", "kitten")
    assert datasets.default_labels(["cat", "dogs"]) == ("cat", "dogs")
    assert datasets.default_labels(["cats", "dogs"], {"cats": "kitty"}) == ("kitty", "dog")
    with pytest.raises(CatsortError, match="unknown class folders"):
        datasets.default_labels(["cats", "dogs"], {"birds": "bird"})


def test_held_out_split_is_fixed_and_disjoint(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=10)
    first, second = datasets.list_files(data), datasets.list_files(data)
    assert first.test == second.test and first.validation == second.validation
    assert not {p for p, _ in first.test} & {p for p, _ in first.validation}
    assert len(first.test) == 10 and len(first.validation) == 10


def test_confidence_threshold_keeps_the_confident_predictions_right() -> None:
    from catsort.training.export import confidence_threshold, probabilities

    probs = probabilities(np.array([[3.0], [-3.0], [0.1], [5.0]]))
    labels = np.array([1, 0, 0, 1])  # the third prediction (p(dog) = 0.52) is wrong
    threshold = confidence_threshold(probs, labels, target=0.995)
    assert probs[2].max() < threshold <= probs[:2].max(axis=1).min()
    assert confidence_threshold(probs, np.array([0, 1, 1, 0])) == 1.0  # nothing is right


def test_the_export_check_allows_more_flips_on_more_photos_but_never_many() -> None:
    from catsort.training.export import allowed_flips

    assert [allowed_flips(n) for n in (1, 6, 12, 100, 500)] == [1, 2, 2, 5, 13]
    assert allowed_flips(12) < 12 * 0.2 and allowed_flips(500) / 500 < 0.03
    assert allowed_flips(30_000) / 30_000 < 0.012  # near the rate itself on many photos


@pytest.mark.parametrize("held", ["catsort.json", "catsort.tflite", "model.keras"])
def test_an_output_folder_with_a_model_needs_overwrite(tmp_path: Path, held: str) -> None:
    data = make_dataset(tmp_path / "data", per_class=2)
    out = tmp_path / "shipped"
    out.mkdir()
    (out / held).write_text("a model someone ships")
    args = ["train", "--data", str(data), "--weights", "none", "--img-size", "32"]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 2, result.output
    line = " ".join(result.output.split())
    assert f"{out}: already holds a model ({held})" in line
    assert "pass --overwrite" in line and "another --output" in line
    assert "Loading images" not in result.output  # it stopped before training
    assert sorted(p.name for p in out.iterdir()) == [held]


def test_overwrite_lets_training_into_a_folder_with_a_model(tmp_path: Path, monkeypatch) -> None:
    import catsort.training.train as training_train

    def stop(*args, **kwargs):  # past the output check; no need to train
        raise CatsortError("stopped before training")

    monkeypatch.setattr(training_train, "decode_splits", stop)
    data = make_dataset(tmp_path / "data", per_class=2)
    out = tmp_path / "shipped"
    out.mkdir()
    (out / "catsort.json").write_text("{}")
    args = ["train", "--data", str(data), "--weights", "none", "--img-size", "32"]
    result = runner.invoke(app, [*args, "--output", str(out), "--overwrite"])
    assert "stopped before training" in result.output


def test_default_output_is_a_new_runs_folder(tmp_path: Path, monkeypatch) -> None:
    from datetime import datetime

    from catsort.training import runs
    from catsort.training.train import TrainConfig

    monkeypatch.chdir(tmp_path)
    when = datetime(2026, 12, 3, 9, 5, 7)
    assert runs.new_run_folder(now=when) == Path("runs/20261203-090507")
    Path("runs/20261203-090507").mkdir(parents=True)
    assert runs.new_run_folder(now=when) == Path("runs/20261203-090507-2")
    config = TrainConfig()
    assert config.output.parent == Path("runs") and not config.output.exists()
    assert config.img_size == 224 and config.output != Path("exported")


def test_the_train_command_defaults_to_224_and_a_runs_folder(tmp_path: Path, monkeypatch) -> None:
    import catsort.training.train as training_train

    seen = {}

    def fake_train(config, say):
        seen["config"] = config
        raise CatsortError("stopped before training")

    monkeypatch.setattr(training_train, "train", fake_train)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--weights", "none"])
    assert "stopped before training" in result.output
    config = seen["config"]
    assert config.img_size == 224 and not config.overwrite
    assert config.output.parent == Path("runs") and not config.output.exists()


def test_convert_will_not_write_over_a_model_without_overwrite(tmp_path: Path) -> None:
    from catsort.training.convert import convert_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_text("stand-in")
    (run / "catsort.json").write_text("{}")
    with pytest.raises(CatsortError, match=r"already holds a model .* pass --overwrite"):
        convert_run(run, run)
    before = (run / "catsort.json").read_text()
    assert before == "{}"


def test_paths_with_brackets_survive_in_the_training_messages(tmp_path: Path, monkeypatch) -> None:
    import catsort.training.train as training_train

    def stop(*args, **kwargs):  # the messages come before training; no need to train
        raise CatsortError("stopped before training")

    monkeypatch.setattr(training_train, "_fit", stop)
    # Rich takes [best] (not [2020]: a tag starts with a letter) for markup unless escaped.
    data = make_dataset(tmp_path / "photos [2020] [best]", per_class=2)
    args = ["train", "--weights", "none", "--img-size", "32", "--output", str(tmp_path / "o")]
    result = runner.invoke(app, [*args, "--data", str(data)])
    assert f"Loading images from {data} at 32x32" in " ".join(result.output.split())
    missing = tmp_path / "gone [2020] [best]"
    result = runner.invoke(app, [*args, "--data", str(missing)])
    assert result.exit_code == 2 and f"{missing}" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("accuracy", "num_classes", "warned"),
    [(0.5, 2, True), (0.59, 2, True), (0.6, 2, False), (0.97, 2, False), (0.4, 3, True)],
)
def test_a_model_near_chance_is_flagged(accuracy: float, num_classes: int, warned: bool) -> None:
    from catsort.training.runs import chance_warning

    warning = chance_warning({"tflite_test_accuracy": accuracy}, num_classes)
    assert (warning is not None) == warned
    if warned:
        assert "barely better than guessing" in warning and "do not ship" in warning


@pytest.mark.parametrize(("accuracy", "warned"), [(0.52, True), (0.97, False)])
def test_the_training_summary_warns_of_a_model_near_chance(
    tmp_path: Path, monkeypatch, accuracy: float, warned: bool
) -> None:
    import catsort.training.train as training_train

    out = tmp_path / "runs [best]"
    metrics = {"keras_test_accuracy": accuracy, "tflite_test_accuracy": accuracy}

    def fake_train(config, say):  # the metrics of a finished run, without training
        return training_train.TrainResult(
            model_path=out / "catsort.tflite",
            metadata_path=out / "catsort.json",
            metrics=metrics,
            labels=("cat", "dog"),
        )

    monkeypatch.setattr(training_train, "train", fake_train)
    result = runner.invoke(app, ["train", "--weights", "none", "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    title = "".join(f"Exported {out / 'catsort.tflite'}".split())  # wrapped to the table's width
    assert title in "".join(result.output.split())  # the title's brackets survive
    assert ("barely better than guessing" in text) == warned
    if warned:
        assert "test accuracy 52.0% is barely better" in text and "do not ship" in text


@pytest.mark.parametrize("verbose", [False, True])
def test_tensorflow_logs_are_hidden_unless_verbose(monkeypatch, verbose: bool) -> None:
    import catsort.training.train as training_train

    seen = {}

    def fake_train(config, say):
        seen["config"] = config
        raise CatsortError("stopped before training")

    monkeypatch.setattr(training_train, "train", fake_train)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    runner.invoke(app, ["train", "--weights", "none", *(["--verbose"] if verbose else [])])
    assert seen["config"].tensorflow_logs == verbose
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == (None if verbose else "3")


def test_quiet_conversion_drops_what_keras_prints(capfd) -> None:
    from catsort.training import export, recipe

    model, _ = recipe.build_model((32, 32), 2, weights=None)
    capfd.readouterr()
    assert export.convert(model, "float32", quiet=True)
    assert "Saved artifact" not in capfd.readouterr().out


def test_the_mahalanobis_gate_runs_on_the_original_branch_inside_the_graph() -> None:
    from catsort.training import export, gate, recipe

    keras.utils.set_random_seed(0)
    model, base = recipe.build_model((32, 32), 2, weights=None)
    for layer in base.layers[100:]:  # stands in for fine-tuning: the upper layers change
        layer.set_weights([w * 1.1 for w in layer.get_weights()])
    original = recipe.build_base((32, 32), weights=None)
    for mine, theirs in zip(base.layers[:100], original.layers[:100]):
        theirs.set_weights(mine.get_weights())  # frozen: the lower layers are the original's
    branch = recipe.frozen_branch_model(model, original, 100)
    images = np.random.default_rng(0).uniform(0, 255, (40, 32, 32, 3)).astype(np.float32)
    out = branch.predict(images, verbose=0)
    untouched = keras.Sequential(
        [
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            original,
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    np.testing.assert_allclose(
        out["branch_features"], untouched.predict(images, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(out["logits"], model.predict(images, verbose=0), atol=1e-5)
    # The statistics are the channel means and spreads of the low layer named for them.
    low = keras.Model(base.input, base.get_layer(gate.STATISTICS_LAYER).output)
    maps = low.predict(images / 127.5 - 1, verbose=0)
    np.testing.assert_allclose(
        out["statistics"],
        np.concatenate([maps.mean(axis=(1, 2)), maps.std(axis=(1, 2))], axis=1),
        rtol=1e-4,
        atol=1e-5,
    )
    labels = np.arange(40) % 2
    fitted = gate.fit_photo_gate(
        out["branch_features"],
        out["statistics"],
        labels,
        (out["branch_features"][:10], out["statistics"][:10]),
        0.05,
    )
    exported = recipe.export_model(model, fitted, branch).predict(images[:6], verbose=0)
    expected = fitted.scores(out["branch_features"][:6], out["statistics"][:6])
    np.testing.assert_allclose(exported["pet_score"][:, 0], expected, rtol=1e-4)
    # With a second opinion the logits are the mean of the two heads'.
    kernel, bias = recipe.fit_second_opinion(out["branch_features"], labels, 2)
    both = recipe.export_model(model, fitted, branch, (kernel, bias)).predict(images, verbose=0)
    np.testing.assert_allclose(
        both["logits"],
        (out["logits"] + out["branch_features"] @ kernel + bias) / 2,
        rtol=1e-4,
        atol=1e-5,
    )
    # One interpreter call gives both outputs; in int8 the gate's arithmetic stays float.
    tflite = export.convert(recipe.export_model(model, fitted, branch), "int8", images, quiet=True)
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=tflite)
    assert set(interpreter.get_signature_runner()(image=images[:6])) == {"logits", "pet_score"}
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    gate_ops = [
        op
        for op in ops
        if op["op_name"] in ("FULLY_CONNECTED", "SQUARED_DIFFERENCE", "SUM", "MINIMUM", "EXP")
    ]
    assert {op["op_name"] for op in gate_ops} >= {"SQUARED_DIFFERENCE", "EXP"}
    assert all(tensors[i]["dtype"] == np.float32 for op in gate_ops for i in op["outputs"])


def test_int8_export_keeps_the_stem_float_and_the_rest_int8() -> None:
    from catsort.training import export, recipe

    keras.utils.set_random_seed(0)
    model, _ = recipe.build_model((32, 32), 2, weights=None)
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    import tensorflow as tf

    output_types = _output_types(tf, export.convert(model, "int8", images, quiet=True))
    for layer in export.FLOAT_LAYERS:  # batch norms folded into their convolutions compute none
        assert output_types(layer) <= {np.float32}, layer
    for layer in ("Conv1", "expanded_conv_", "block_1_", "block_2_"):
        assert output_types(layer) == {np.float32}, layer
    for layer in ("block_3_", "block_8_depthwise", "block_10_", "out_relu"):
        assert output_types(layer) == {np.int8}, layer


@pytest.mark.parametrize("num_classes", [2, 3])
def test_the_second_opinion_learns_the_classes_of_its_features(num_classes: int) -> None:
    from catsort.training import recipe

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (num_classes, 20)) + 50  # raw features far from standardized
    labels = np.arange(300) % num_classes
    features = centres[labels] + rng.normal(0, 1, (300, 20))
    kernel, bias = recipe.fit_second_opinion(features[:200], labels[:200], num_classes)
    logits = features[200:] @ kernel + bias
    predicted = (logits[:, 0] > 0).astype(int) if num_classes == 2 else logits.argmax(axis=1)
    assert (predicted == labels[200:]).mean() > 0.95


# --- a person's own photos (issue 34) and any data size (issue 33) ------------------------------

PALETTE = [(200, 60, 50), (50, 60, 200), (60, 190, 70)]
TINY = ["--weights", "none", "--img-size", "32", "--epochs", "1", "--fine-tune-epochs", "1"]


def make_classes(root: Path, counts: dict[str, int], seed: int = 0, size: int = 40) -> Path:
    """Class folders of small noisy JPEGs, one colour a class: {"cats": 30, ...}."""
    rng = np.random.default_rng(seed)
    for (name, count), colour in zip(counts.items(), PALETTE):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (size, size, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index}.jpg")
    return root


def test_a_60_photo_run_from_two_folders_exports_and_reports_in_percent(tmp_path: Path) -> None:
    mine = make_classes(tmp_path / "mine", {"cats": 30, "dogs": 30})
    more = tmp_path / "reviewed"  # what catsort review --export wrote: copies of some of mine
    (more / "cats").mkdir(parents=True)
    for index in range(5):
        (more / "cats" / f"copy{index}.jpg").write_bytes(
            (mine / "cats" / f"{index}.jpg").read_bytes()
        )
    out = mine / "run_inside"  # --output inside --data
    result = runner.invoke(
        app, ["train", "--data", str(mine), "--data", str(more), "--output", str(out), *TINY]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "5 files are copies of others (the same bytes): each counted once" in text
    assert "48 training, 6 validation, 6 test images; labels cat, dog" in text
    metadata = json.loads((out / "catsort.json").read_text())
    assert metadata["data"]["roots"] == [str(mine), str(more)]
    metrics = metadata["metrics"]
    # Like with like: the exported model's own logic (two heads' mean) on both sides.
    assert metrics["test_disagreements"] <= 1 and metrics["keras_head_test_accuracy"] >= 0
    assert abs(metrics["tflite_test_accuracy"] - metrics["keras_test_accuracy"]) <= 1 / 6 + 1e-9
    shown = f"{metrics['tflite_test_accuracy']:.1%}"
    assert re.search(rf"│ test accuracy +│ +{re.escape(shown)} │", result.output)
    assert "size bytes" not in result.output and re.search(r"model size +│ +\d+\.\d MB", text)
    # Training on the same folder again leaves the run out, and says so.
    again = datasets.list_files(mine)
    assert again.class_dirs == ["cats", "dogs"] and len(again.all()) == 60
    assert any(f"{out}: left out" in note for note in again.notes)


def test_three_classes_train_quietly_with_an_emoji_folder_and_plain_logs(tmp_path: Path) -> None:
    """A whole run as a user starts it, stderr a log file: nothing of TensorFlow's in it."""
    import subprocess
    import sys

    data = make_classes(tmp_path / "data", {"chats été": 10, "chiens 🐶": 10, "lapins": 10})
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "catsort", "train", "--data", str(data), "--output", str(out)]
        + TINY,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    log = done.stderr
    for noise in ("oneDNN", "absl", "fully_quantize", "XNNPACK", "retracing", "Glyph", "WARNING"):
        assert noise not in log, noise
    assert "\x1b[A" not in log and "\r" not in log  # no bar redraws in a log
    assert "Stage 1, epoch 1/1: " in log and "Stage 2, epoch 1/1: " in log
    metadata = json.loads((out / "catsort.json").read_text())
    assert metadata["labels"] == ["chats été", "chiens 🐶", "lapins"]
    assert metadata["activation"] == "softmax" and (out / "test_predictions.jpg").is_file()


def test_figure_titles_spell_out_what_no_font_draws() -> None:
    from catsort.training import figures

    assert figures.drawable("chats été") == "chats été"
    codes = figures._drawable_codes()
    if 0x1F436 not in codes:  # no emoji font installed, as here
        assert figures.drawable("chiens 🐶") == "chiens [dog face]"
        assert figures.drawable("🐈\u200d⬛ 🐈") == "[cat][black large square] [cat]"


def test_a_failed_export_leaves_no_model_and_its_remedy_works(tmp_path: Path, monkeypatch) -> None:
    from catsort.training import export

    convert = export.convert

    def unfaithful(model, quantization, calibration=None, quiet=False, **options):
        """An int8 conversion that labels every photo the other way."""
        if quantization == "int8" and isinstance(model.output, dict) and "logits" in model.output:
            outputs = dict(model.output)
            outputs["logits"] = keras.layers.Rescaling(-1.0)(outputs["logits"])
            model = keras.Model(model.input, outputs)
        return convert(model, quantization, calibration, quiet, **options)

    monkeypatch.setattr(export, "convert", unfaithful)
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "runA"
    result = runner.invoke(app, ["train", "--data", str(data), "--output", str(out), *TINY])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    work = tmp_path / "runA.partial"
    remedy = f"catsort train --resume {work} --ship float32"
    assert "the int8 model labels 6 of 6 test photos otherwise than the Keras model" in text
    assert f"ship the float32 model instead: {remedy}" in text
    assert f"Kept {work}: the trained model, no model to classify with" in text
    assert not out.exists() and not list(work.glob("catsort*"))
    classify = runner.invoke(app, ["classify", str(data), "--model", str(work), "--quiet"])
    assert classify.exit_code == 2, classify.output
    refused = runner.invoke(app, ["train", "--data", str(data), "--output", str(out), *TINY])
    assert refused.exit_code == 2 and "an unfinished run for this --output" in refused.output

    result = runner.invoke(app, remedy.split()[1:])  # the named remedy, as typed

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"Resuming {work} after epoch 2 of 2" in text and "Stage 1:" not in text
    assert "warning: catsort-int8.tflite: the int8 model labels 6 of 6" in text
    assert "not written" in text and not work.exists()
    metadata = json.loads((out / "catsort.json").read_text())
    assert metadata["quantization"] == "float32" and not list(out.glob("catsort-int8*"))


def test_ctrl_c_stops_at_a_batch_and_resume_goes_on_from_the_checkpoint(
    tmp_path: Path, monkeypatch
) -> None:
    import signal

    import catsort.training.train as training_train

    batch_end = training_train._Epochs.on_train_batch_end

    def pressed_in_stage_2(self, batch, logs=None):
        if self.stage == 2:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, through the real handler
        batch_end(self, batch, logs)

    monkeypatch.setattr(training_train._Epochs, "on_train_batch_end", pressed_in_stage_2)
    data = make_dataset(tmp_path / "data", per_class=20)
    out = tmp_path / "runA"
    args = ["train", "--data", str(data), "--output", str(out), "--gate", "knn", *TINY]
    result = runner.invoke(app, [*args, "--batch-size", "8"])
    assert result.exit_code == 130, result.output
    work = tmp_path / "runA.partial"
    assert " ".join(result.output.split()).endswith(
        "Stopped at batch 1 of 5 of stage 2's epoch 1/1: that epoch's batches are lost. "
        f"Kept {work}: the checkpoint after epoch 1 of 2, no model to classify with. "
        f"Go on with: catsort train --resume {work} (or delete the folder)"
    )
    state = json.loads((work / "run.json").read_text())
    assert state["epochs_done"] == 1 and (work / "checkpoint.keras").is_file()
    assert not out.exists()
    monkeypatch.undo()

    refused = runner.invoke(app, ["train", "--resume", str(work), "--epochs", "3"])
    assert refused.exit_code == 2 and "--epochs cannot change" in refused.output
    result = runner.invoke(app, ["train", "--resume", str(out), "--no-figures"])

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"Resuming {work} after epoch 1 of 2" in text
    assert "Stage 1:" not in text and "Stage 2, epoch 1/1: " in text
    history = json.loads((out / "history.json").read_text())
    assert history["loss"][0] == state["history"]["loss"][0] and len(history["loss"]) == 2
    metadata = json.loads((out / "catsort.json").read_text())
    assert metadata["training"]["batch_size"] == 8  # the run's own settings
    assert not work.exists() and not (out / "checkpoint.keras").exists()


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_asks_for_a_stop_at_the_next_batch_and_a_second_stops_at_once(name: str) -> None:
    import signal

    from catsort.training.train import _StopRequest

    number = getattr(signal, name)
    before = signal.getsignal(number)
    with _StopRequest() as stop:
        signal.raise_signal(number)  # a shutdown's SIGTERM too: the epochs so far are kept
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(number)
    assert signal.getsignal(number) is before


def test_the_streamed_pipeline_never_holds_the_data_set(tmp_path: Path) -> None:
    """One epoch and a pass of predictions over 400 photos hold far less than their pixels."""
    import tracemalloc

    from catsort.training import photos, recipe, stream
    from catsort.training.train import _predict

    data = make_classes(tmp_path / "data", {"cats": 200, "dogs": 200})
    files = [(path, int("dogs" in path.parent.name)) for path in sorted(data.rglob("*.jpg"))]
    size = (128, 128)
    decoded = photos.decode(files, size, tmp_path / "train.u8")
    # 20 MB as uint8, 79 MB as the model's floats; streamed, 2.1 MB was the peak here, and
    # from_tensor_slices over the photos, as before, 102 MB at 96x96.
    whole = len(decoded) * decoded.photo_bytes
    limit = whole / 4
    model, _ = recipe.build_model(size, 2, weights=None)
    recipe.compile_model(model, 2, keras.optimizers.Adam(1e-3))
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal")])
    train_ds = stream.dataset(decoded, 16, 2, shuffle_seed=0, augment=augment)
    model.fit(train_ds.take(2), epochs=1, verbose=0, shuffle=False)  # traced outside the measure
    _predict(model, decoded.subset(range(16)), 16)

    tracemalloc.start()
    try:
        history = model.fit(train_ds, epochs=1, verbose=0, shuffle=False)
        logits = _predict(model, decoded, 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert len(history.history["loss"]) == 1 and logits.shape == (400, 1)
    assert peak < limit, f"{peak / 1e6:.1f} MB held; the photos are {whole / 1e6:.1f} MB"


@pytest.mark.parametrize(
    ("float_layers", "floats", "ints"),
    [
        (("Conv1", "bn_Conv1"), ("Conv1",), ("expanded_conv_", "block_1_", "block_2_")),
        ((), (), ("Conv1", "expanded_conv_", "block_1_", "block_3_")),
    ],
    ids=["first convolution float", "all int8"],
)
def test_int8_export_keeps_float_only_the_layers_asked(
    float_layers: tuple[str, ...], floats: tuple[str, ...], ints: tuple[str, ...]
) -> None:
    # convert --float-layers: on CPUs with 8-bit dot products an int8 stem runs faster.
    from catsort.training import export, recipe

    keras.utils.set_random_seed(0)
    model, _ = recipe.build_model((32, 32), 2, weights=None)
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    import tensorflow as tf

    tflite = export.convert(model, "int8", images, quiet=True, float_layers=float_layers)
    output_types = _output_types(tf, tflite)
    for layer in floats:
        assert output_types(layer) == {np.float32}, layer
    for layer in ints:
        assert output_types(layer) == {np.int8}, layer


def _output_types(tf: Any, tflite: bytes) -> Callable[[str], set]:
    """For a TFLite model: the types of what the ops of a layer (a name prefix) compute."""
    interpreter = tf.lite.Interpreter(model_content=tflite)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}

    def output_types(layer: str) -> set:
        return {
            tensors[i]["dtype"]
            for op in interpreter._get_ops_details()
            for i in op["outputs"]
            if any(re.search(rf"/{layer}\w*/", name) for name in tensors[i]["name"].split(";"))
        }

    return output_types


def make_others(root: Path, per_class: int = 6) -> Path:
    """Folders of small non-pet photos (greens and greys), as ../shared/data/others has."""
    rng = np.random.default_rng(1)
    for kind, colour in (("car", (90, 90, 90)), ("person", (60, 160, 60))):
        (root / kind).mkdir(parents=True)
        for index in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (30, 30, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / kind / f"{kind}_{index}.jpg")
    return root


def test_the_region_scores_run_inside_the_graph_and_stay_float_in_int8() -> None:
    from catsort.training import export, gate, recipe, regions

    keras.utils.set_random_seed(0)
    model, _ = recipe.build_model((64, 64), 2, weights=None)
    original = recipe.build_base((64, 64), weights=None)
    branch = recipe.frozen_branch_model(model, original, 100)
    images = np.random.default_rng(0).uniform(0, 255, (24, 64, 64, 3)).astype(np.float32)
    out = branch.predict(images, verbose=0)
    assert out["fine_map"].shape == out["branch_map"].shape == (24, 2, 2, 1280)
    labels = np.arange(24) % 2
    fitted = gate.fit_photo_gate(
        out["branch_features"],
        out["statistics"],
        labels,
        (out["branch_features"][:6], out["statistics"][:6]),
        0.05,
    )
    rng = np.random.default_rng(1)
    head = regions.RegionHead(rng.normal(0, 0.01, 2560).astype(np.float32), 0.3, 2, (1, 2))
    exported = recipe.export_model(model, fitted, branch, None, head.layer())
    scores = exported.predict(images, verbose=0)["region_score"]
    expected = head.scores(out["fine_map"], out["branch_map"])
    assert scores.shape == (24, 5)  # four single cells and the whole 2x2 map
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    # The whole map's window is the head on the pooled features.
    pooled = np.concatenate([out["features"], out["branch_features"]], axis=1) @ head.kernel
    np.testing.assert_allclose(scores[:, 4], pooled + 0.3, rtol=1e-4, atol=1e-5)

    tflite = export.convert(exported, "int8", images, quiet=True)
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=tflite)
    converted = interpreter.get_signature_runner()(image=images[:8])
    assert set(converted) == {"logits", "pet_score", "region_score"}
    spread = expected[:8].std()
    assert np.abs(converted["region_score"] - expected[:8]).max() < 0.2 * spread + 1e-3


def test_a_run_with_others_ships_regions_classify_uses(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data")
    others = make_others(tmp_path / "others")
    out = tmp_path / "model"
    args = ["train", "--data", str(data), "--output", str(out), "--weights", "none"]
    args += ["--img-size", "64", "--epochs", "1", "--fine-tune-epochs", "1", "--no-figures"]
    result = runner.invoke(app, [*args, "--others", str(others)])
    assert result.exit_code == 0, result.output
    metadata = json.loads((out / "catsort.json").read_text())
    regions = metadata["regions"]
    assert (regions["grid"], regions["sizes"]) == (2, [2, 3, 4])
    assert regions["crop_threshold"] >= metadata["threshold"]
    assert "fitted on composites" in regions["method"]
    assert metadata["training"]["others"] == str(others)
    from catsort.model import load_model

    for name in ("catsort", "catsort-float32"):
        classifier = load_model(out / f"{name}.json")
        scores = classifier.predict(np.zeros((3, 64, 64, 3), np.uint8)).region_score
        assert scores is not None and scores.shape == (3, 1)
    classified = runner.invoke(
        app, ["classify", str(data / "validation"), "--model", str(out), "--csv", "-", "--quiet"]
    )
    assert classified.exit_code == 0, classified.output
    assert classified.stdout.splitlines()[0].endswith(",box")


def test_others_that_hold_no_photo_folders_fail_before_training(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data")
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        app,
        ["train", "--data", str(data), "--weights", "none", "--others", str(tmp_path / "empty")],
    )
    assert result.exit_code == 2, result.output
    assert "--others needs a folder of non-pet photo folders" in result.output
