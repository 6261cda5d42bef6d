"""`catsort train`: the two-stage recipe, the pet gate, TFLite export and its checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from catsort.errors import CatsortError

from . import data as datasets
from . import export, gate, recipe, runs


@dataclass
class TrainConfig:
    """Every setting of a training run; the defaults are the recipe's."""

    data: Path | None = None  # None: download cats_and_dogs_filtered
    output: Path = field(default_factory=runs.new_run_folder)  # runs/<YYYYmmdd-HHMMSS>
    overwrite: bool = False  # write into a folder that already holds a model
    weights: str | None = "imagenet"
    img_size: int = 224
    batch_size: int = 32
    epochs: int = 10
    fine_tune_epochs: int = 10
    learning_rate: float = 3e-4
    fine_tune_at: int = 100
    val_split: float = 0.2
    test_fraction: float = 0.5
    labels: dict[str, str] | None = None
    ship: str = "int8"  # the variant written as catsort.tflite: "int8" or "float32"
    calibration_images: int = 1000
    confidence_target: float = 0.995
    gate_reject_rate: float = 0.01
    gate: str = "mahalanobis"  # or "knn": see training/gate.py
    figures: bool = True
    seed: int = 1337
    verbose: bool = True  # progress bars
    tensorflow_logs: bool = True  # False: the converter's printout of each export is dropped


@dataclass
class TrainResult:
    """What a run produced: the shipped model's path and the metrics that went into metadata."""

    model_path: Path
    metadata_path: Path
    metrics: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def train(config: TrainConfig, say: Callable[[str], None] = print) -> TrainResult:
    """Run the whole recipe and write the exported model, metadata and figures."""
    runs.check_output(config.output, config.overwrite)
    if config.gate not in gate.GATE_KINDS:
        raise CatsortError(f"unknown gate {config.gate!r}; use {' or '.join(gate.GATE_KINDS)}")
    keras.utils.set_random_seed(config.seed)
    root = config.data if config.data is not None else datasets.download_default_dataset()
    files = datasets.list_files(
        root, config.val_split, config.test_fraction, config.seed, leave_out=[config.output]
    )
    labels = datasets.default_labels(files.class_dirs, config.labels)
    for note in files.notes:
        say(note)
    size = (config.img_size, config.img_size)
    num_classes = len(labels)
    # Before decoding the photos (minutes on a real data set): bad or unreachable weights show.
    model, base = recipe.build_model(size, num_classes, config.weights)
    say(f"Loading images from {root} at {size[0]}x{size[1]} ...")
    train_split, val_split, test_split = load_splits(files, size, say)
    _check_classes(train_split, labels, root, "training")
    _check_classes(val_split, labels, root, "validation")
    tested = (
        f"{len(test_split)} test images"
        if test_split is not val_split
        else "no separate test images (too few held out: test figures use the validation ones)"
    )
    say(
        f"{len(train_split)} training, {len(val_split)} validation, {tested}; "
        f"labels {', '.join(labels)}"
    )
    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)],
        name="augmentation",
    )
    train_ds = _dataset(train_split, num_classes, config.batch_size, augment, config.seed)
    val_ds = _dataset(val_split, num_classes, config.batch_size)

    say(f"Stage 1: frozen base, new head (Adam {config.learning_rate:g}, {config.epochs} epochs)")
    recipe.compile_model(model, num_classes, keras.optimizers.Adam(config.learning_rate))
    stage1 = recipe.parameter_counts(model)
    # shuffle=False: the dataset shuffles itself each epoch; Keras' own flag would only print a
    # warning that it ignores it.
    history1 = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        callbacks=_progress(config),
        verbose=0,
        shuffle=False,
    )

    fine_rate = config.learning_rate / 10
    say(
        f"Stage 2: fine-tune from layer {config.fine_tune_at} (RMSprop {fine_rate:g}, "
        f"{config.fine_tune_epochs} more epochs)"
    )
    recipe.unfreeze_from(base, config.fine_tune_at)
    recipe.compile_model(model, num_classes, keras.optimizers.RMSprop(fine_rate))
    stage2 = recipe.parameter_counts(model)
    history2 = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs + config.fine_tune_epochs,
        initial_epoch=len(history1.epoch),
        callbacks=_progress(config),
        verbose=0,
        shuffle=False,
    )
    history = {
        key: history1.history[key] + history2.history.get(key, []) for key in history1.history
    }

    config.output.mkdir(parents=True, exist_ok=True)
    model.save(
        config.output / "model.keras"
    )  # so `python -m catsort.training.convert` can export again
    (config.output / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    info = {
        "training": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(config).items()
            if k not in ("output", "overwrite", "verbose", "tensorflow_logs", "figures")
        },
        "parameters": {"stage1": stage1, "stage2": stage2},
        "data": {
            "root": str(root),
            "class_folders": files.class_dirs,
            "train_images": len(train_split),
            "validation_images": len(val_split),
            "test_images": len(test_split),
            "fingerprint": datasets.fingerprint(files.train + files.validation + files.test, root),
        },
    }
    shipped = export_trained(model, labels, (train_split, val_split, test_split), config, info, say)
    if config.figures:
        _figures(config, history, train_split, augment, labels)
        test_predictions_figure(config.output, test_split, labels)
    return TrainResult(
        model_path=config.output / "catsort.tflite",
        metadata_path=config.output / "catsort.json",
        metrics=shipped,
        parameters={"stage1": stage1, "stage2": stage2},
        labels=labels,
    )


def load_splits(
    files: datasets.FileLists, size: tuple[int, int], say: Callable[[str], None] = print
) -> tuple[datasets.Split, datasets.Split, datasets.Split]:
    """Decode the training, validation and test images (test falls back to validation)."""
    warn = lambda message: say(f"warning: {message}")  # noqa: E731
    train_split = datasets.load_split(files.train, size, warn)
    val_split = datasets.load_split(files.validation, size, warn)
    test_split = datasets.load_split(files.test, size, warn) if files.test else val_split
    return train_split, val_split, test_split


def export_trained(
    model: keras.Model,
    labels: tuple[str, ...],
    splits: tuple[datasets.Split, datasets.Split, datasets.Split],
    config: TrainConfig,
    info: dict,
    say: Callable[[str], None] = print,
    with_gate: bool = True,
) -> dict:
    """Fit the pet gate, convert to int8 and float32 TFLite, check them; return shipped metrics.

    ``with_gate=False`` leaves the gate out (only to measure what it costs).
    """
    train_split, val_split, test_split = splits
    size = (config.img_size, config.img_size)
    keras_test = _accuracy(_predict(model, test_split.images, config.batch_size), test_split.labels)
    say(f"Keras test accuracy: {keras_test:.2%}")

    rng = np.random.default_rng(config.seed)
    calibration = train_split.images[
        rng.choice(
            len(train_split), min(config.calibration_images, len(train_split)), replace=False
        )
    ]
    pet_gate: gate.PhotoGate | gate.NeighbourGate | None = None
    branch = None
    if with_gate and config.gate == "mahalanobis":
        original = recipe.build_base(size, config.weights)
        branch = recipe.frozen_branch_model(model, original, config.fine_tune_at)
    elif with_gate and config.gate == "knn":
        say("Fitting the pet gate on the training photos' features ...")
        pet_gate = gate.fit_neighbours(
            _predict(recipe.feature_model(model), train_split.images, config.batch_size),
            train_split.labels,
            seed=config.seed,
        )
    elif with_gate:
        raise CatsortError(f"unknown gate {config.gate!r}; use {' or '.join(gate.GATE_KINDS)}")
    config.output.mkdir(parents=True, exist_ok=True)
    variants = {}
    for quantization in ("int8", "float32"):
        reference = None  # the calibration photos' pet scores where the gate sets its limits
        second_opinion = None
        if branch is not None:
            say(
                f"Fitting the pet gate on the original MobileNetV2's features (layers "
                f"{config.fine_tune_at}+ as a second branch) as the {quantization} model "
                "computes them ..."
            )
            pet_gate, reference, second_opinion = _fit_photo_gate(
                branch, quantization, calibration, (train_split, val_split), config
            )
        exported = recipe.export_model(model, pet_gate, branch, second_opinion)
        common = {**info, "gate": _gate_info(pet_gate, config), "versions": _versions()}
        if second_opinion is not None:
            common["second_opinion"] = {
                "method": "the logits are the mean of the fine-tuned head's and those of a "
                "linear head on the original MobileNetV2's pooled features (the gate's branch), "
                "fitted on the training photos as this variant computes them",
                "l2": recipe.SECOND_OPINION_L2,
            }
        name = "catsort" if quantization == config.ship else f"catsort-{quantization}"
        say(f"Converting to TensorFlow Lite ({quantization}) ...")
        path = config.output / f"{name}.tflite"
        path.write_bytes(
            export.convert(exported, quantization, calibration, quiet=not config.tensorflow_logs)
        )
        variants[quantization] = _finish_variant(
            path,
            quantization,
            labels,
            size,
            common,
            (val_split, test_split),
            keras_test,
            config,
            reference,
        )
    for quantization, metrics in variants.items():
        say(
            f"{quantization}: test accuracy {metrics['tflite_test_accuracy']:.2%} "
            f"(Keras {keras_test:.2%}), {metrics['size_bytes'] / 1e6:.1f} MB, "
            f"{metrics['ms_per_image']:.1f} ms/image"
        )
    return variants[config.ship]


def _fit_photo_gate(
    branch: keras.Model,
    quantization: str,
    calibration: np.ndarray,
    splits: tuple[datasets.Split, datasets.Split],
    config: TrainConfig,
) -> tuple[gate.PhotoGate, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Fit the Mahalanobis gate on the features the ``quantization`` variant itself computes.

    Returns the gate, the validation photos' pet scores under it, and the second opinion
    (``recipe.fit_second_opinion``) fitted on the same features. The distance weighs each
    direction by how little the training photos vary along it, so int8 rounding can count for
    much along the quiet ones; fitted on the int8 model's own features, the rounding is part of
    the covariance. Measured (README): the int8 model let 3.0 % of non-pet photos through with
    the gate fitted on float features, 2.6 % fitted on its own, against 0.4 % in float32.
    """
    train_split = splits[0]
    inputs = keras.Model(
        branch.input,
        {"content": branch.output["branch_features"], "statistics": branch.output["statistics"]},
    )
    if quantization == "float32":
        train, val = (_predict(inputs, split.images, config.batch_size) for split in splits)
    else:
        converted = export.convert(inputs, quantization, calibration, quiet=True)
        train, val = (export.run_outputs(converted, split.images) for split in splits)
    fitted = gate.fit_photo_gate(
        train["content"],
        train["statistics"],
        train_split.labels,
        (val["content"], val["statistics"]),
        config.gate_reject_rate,
        seed=config.seed,
    )
    units = int(branch.output["logits"].shape[-1])
    second_opinion = recipe.fit_second_opinion(
        train["content"], train_split.labels, 2 if units == 1 else units, config.seed
    )
    return fitted, fitted.scores(val["content"], val["statistics"]), second_opinion


def _gate_info(
    pet_gate: gate.PhotoGate | gate.NeighbourGate | None, config: TrainConfig
) -> dict | None:
    """What the metadata says about the gate (its threshold is added per variant)."""
    if isinstance(pet_gate, gate.PhotoGate):
        classes, dimensions = pet_gate.content.means.shape
        return {
            "method": "Mahalanobis distances to the nearer class mean (Ledoit-Wolf shared "
            "covariances) on the pooled features of the original MobileNetV2, its layers "
            f"{config.fine_tune_at}+ run as a second branch, and on the channel means and "
            f"spreads of {gate.STATISTICS_LAYER}; both must be within their limits, set on "
            "out-of-fold training photos and the calibration photos; pet score 2^-r, r the "
            "larger distance over its limit",
            "kind": "mahalanobis",
            "branch_from_layer": config.fine_tune_at,
            "classes": int(classes),
            "features": int(dimensions),
            "shrinkage": round(pet_gate.content.shrinkage, 6),
            "limit": round(pet_gate.content_limit, 3),
            "statistics_layer": gate.STATISTICS_LAYER,
            "statistics_features": int(pet_gate.statistics.means.shape[1]),
            "statistics_shrinkage": round(pet_gate.statistics.shrinkage, 6),
            "statistics_limit": round(pet_gate.statistics_limit, 3),
            "calibrated_reject_rate": config.gate_reject_rate,
            "statistics_reject_rate": config.gate_reject_rate * gate.STATISTICS_SHARE,
        }
    if isinstance(pet_gate, gate.NeighbourGate):
        return {
            "method": "cosine similarity of unit-length pooled MobileNetV2 features to the "
            f"k-th most similar of {len(pet_gate.bank)} training photos",
            "kind": "knn",
            "k": pet_gate.k,
            "bank": len(pet_gate.bank),
            "calibrated_reject_rate": config.gate_reject_rate,
        }
    return None


def _finish_variant(
    path: Path,
    quantization: str,
    labels: tuple[str, ...],
    size: tuple[int, int],
    common: dict,
    splits: tuple[datasets.Split, datasets.Split],
    keras_test: float,
    config: TrainConfig,
    reference: np.ndarray | None = None,
) -> dict:
    """Calibrate thresholds on the TFLite model itself, check parity, write its metadata.

    ``reference``: the validation photos' float pet scores of a gate that set its own limits;
    the threshold then carries those limits over (``gate.threshold_for_drift``).
    """
    val_split, test_split = splits
    from catsort.metadata import ModelMetadata

    activation = "sigmoid" if len(labels) == 2 else "softmax"
    provisional = ModelMetadata(
        labels=labels,
        input_size=size,
        activation=activation,
        threshold=0.5,
        model_file=path.name,
        gate_threshold=0.0 if common.get("gate") else None,
        quantization=quantization,
    )
    provisional.save(path.with_suffix(".json"))
    val_logits, val_scores, _ = export.run_tflite(path, val_split.images)
    test_logits, test_scores, seconds = export.run_tflite(path, test_split.images, threads=1)
    val_probs = export.probabilities(val_logits)
    test_probs = export.probabilities(test_logits)
    threshold = export.confidence_threshold(val_probs, val_split.labels, config.confidence_target)
    if val_scores is None:
        gate_threshold = None
    elif reference is not None:
        gate_threshold = round(gate.threshold_for_drift(reference, val_scores), 6)
    else:
        gate_threshold = round(gate.score_threshold(val_scores, config.gate_reject_rate), 6)
    test_accuracy = _accuracy(test_logits, test_split.labels)
    confident = test_probs.max(axis=1) >= threshold
    metrics = {
        "keras_test_accuracy": round(keras_test, 4),
        "tflite_test_accuracy": round(test_accuracy, 4),
        "tflite_validation_accuracy": round(_accuracy(val_logits, val_split.labels), 4),
        "test_confident_share": round(float(confident.mean()), 4),
        "test_confident_accuracy": round(
            float((test_probs.argmax(1) == test_split.labels)[confident].mean())
            if confident.any()
            else 0.0,
            4,
        ),
        "test_gated_out_share": (
            None
            if gate_threshold is None or test_scores is None
            else round(float((test_scores < gate_threshold).mean()), 4)
        ),
        "size_bytes": path.stat().st_size,
        "ms_per_image": round(seconds * 1000, 2),
    }
    metadata = ModelMetadata(
        labels=labels,
        input_size=size,
        activation=activation,
        threshold=round(threshold, 6),
        model_file=path.name,
        gate_threshold=gate_threshold,
        quantization=quantization,
        info={**common, "metrics": metrics, "created": _now()},
    )
    metadata.save(path.with_suffix(".json"))
    if abs(test_accuracy - keras_test) > 0.005:
        raise CatsortError(
            f"{path}: TFLite test accuracy {test_accuracy:.2%} is more than 0.5 points from "
            f"Keras {keras_test:.2%}; the conversion is not faithful (try --ship float32)",
            exit_code=1,
        )
    return metrics


def _dataset(
    split: datasets.Split,
    num_classes: int,
    batch_size: int,
    augment: keras.Model | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of float pixels and labels; shuffled and augmented when ``augment`` is given."""
    labels = split.labels.astype(np.float32 if num_classes == 2 else np.int64)
    ds = tf.data.Dataset.from_tensor_slices((split.images, labels))
    if augment is not None:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    if augment is not None:
        ds = ds.map(
            lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def _predict(model: keras.Model, images: np.ndarray, batch_size: int) -> Any:
    """An array of outputs, or a dict of them for a model whose outputs are named."""
    return model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((export.probabilities(logits).argmax(axis=1) == labels).mean())


def _check_classes(split: datasets.Split, labels: tuple[str, ...], root: Path, name: str) -> None:
    counts = np.bincount(split.labels, minlength=len(labels))
    empty = [label for label, count in zip(labels, counts) if count == 0]
    if empty:
        raise CatsortError(f"{root}: no readable {name} images for {', '.join(empty)}")


def _progress(config: TrainConfig) -> list[keras.callbacks.Callback]:
    if not config.verbose:
        return []
    from tqdm.keras import TqdmCallback

    return [TqdmCallback(verbose=1, leave=False)]


def _figures(
    config: TrainConfig,
    history: dict,
    train_split: datasets.Split,
    augment: keras.Model,
    labels: tuple[str, ...],
) -> None:
    from . import figures

    out = config.output
    figures.learning_curves(history, config.epochs, out / "learning_curves.png")
    first = train_split.images[:12]
    figures.photo_grid(
        first, [labels[i] for i in train_split.labels[:12]], out / "training_photos.jpg"
    )
    figures.augmentation_grid(
        train_split.images[0],
        lambda image: np.clip(augment(image[None].astype(np.float32), training=True)[0], 0, 255),
        out / "augmentation.jpg",
    )


def test_predictions_figure(
    output: Path, test_split: datasets.Split, labels: tuple[str, ...]
) -> None:
    """A grid of test photos with the exported model's labels, mistakes marked."""
    from catsort.model import load_model

    from . import figures

    classifier = load_model(output / "catsort.json")
    picks = test_split.images[:16]
    predicted = export.probabilities(classifier.predict(picks).logits).argmax(axis=1)
    truth = test_split.labels[:16]
    figures.photo_grid(
        picks,
        [labels[p] + ("" if p == t else f" (is {labels[t]})") for p, t in zip(predicted, truth)],
        output / "test_predictions.jpg",
        wrong=list(predicted != truth),
    )


def _versions() -> dict[str, str]:
    import catsort

    return {
        "catsort": catsort.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
