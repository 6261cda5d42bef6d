"""`catsort train`: the two-stage recipe, the pet gate, TFLite export and its checks.

A run works in ``<output>.partial`` (:mod:`.runs`): the photos are decoded once into it
(:mod:`.photos`) and streamed from there (:mod:`.stream`), a checkpoint is saved after every
epoch, and the folder takes its own name only once the exported model passed its checks.
:func:`resume` goes on with a stopped or failed run from its last finished epoch.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from catsort.errors import FAILED, CatsortError

from . import data as datasets
from . import export, gate, logs, recipe, regions, runs, stream
from .photos import Photos, decode, room_for

#: The settings ``catsort train --resume`` may change: they act after the epochs.
RESUME_CHANGES = ("ship", "gate", "figures", "verbose", "tensorflow_logs")

#: Settings that do not shape the model, left out of its metadata.
_NOT_RECORDED = ("output", "overwrite", "verbose", "tensorflow_logs", "figures", "decode_cache")


@dataclass
class TrainConfig:
    """Every setting of a training run; the defaults are the recipe's."""

    data: list[Path] = field(default_factory=list)  # none: download cats_and_dogs_filtered
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
    # Most training photos the pet gate and the second opinion are fitted on (a random sample
    # beyond that): their features, 1,280 numbers a photo, are held in memory, and 4,000 photos
    # estimate a 1,280 x 1,280 covariance as well as 30,000 would (Ledoit-Wolf shrinkage).
    gate_photos: int = 4000
    # Non-pet photos (class folders) to fit the regions on, for pets that do not fill the
    # frame (training/regions.py); None: a model without regions. Mahalanobis gate only.
    others: Path | None = None
    # MobileNetV2 layers kept float32 in the int8 model (name prefixes; () for none): the
    # stem by default (export.FLOAT_LAYERS says why and what it costs).
    float_layers: tuple[str, ...] = export.FLOAT_LAYERS
    figures: bool = True
    seed: int = 1337
    verbose: bool = True  # progress bars
    tensorflow_logs: bool = True  # False: the converter's printout of each export is dropped
    decode_cache: bool = True  # keep the decoded photos on disk for the later epochs


@dataclass
class TrainResult:
    """What a run produced: the shipped model's path and the metrics that went into metadata."""

    model_path: Path
    metadata_path: Path
    metrics: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    labels: tuple[str, ...] = ()


@dataclass
class _Run:
    """One run's settings, files, folder and progress (saved in its ``run.json``)."""

    config: TrainConfig
    work: Path  # the .partial folder
    files: datasets.FileLists
    labels: tuple[str, ...]
    state: dict[str, Any]
    resumed: bool = False
    phase: str = "reading the photos"
    said_kept: bool = False  # the error already says what was kept

    @property
    def total_epochs(self) -> int:
        return self.config.epochs + self.config.fine_tune_epochs

    @property
    def epochs_done(self) -> int:
        return int(self.state["epochs_done"])

    def kept(self) -> str:
        return runs.kept_line(self.work, self.epochs_done, self.total_epochs)


class _Stopped(Exception):
    """Ctrl-C was pressed while fitting; where the run stopped (``batch`` None: at an end)."""

    def __init__(self, stage: int, epoch: int, epochs: int, batch: int | None, steps: int):
        super().__init__("stopped")
        self.stage, self.epoch, self.epochs = stage, epoch, epochs
        self.batch, self.steps = batch, steps


def train(config: TrainConfig, say: Callable[[str], None] = print) -> TrainResult:
    """Train a model into ``config.output``: the whole recipe, the export and its checks."""
    _check_choices(config)
    runs.check_output(config.output, config.overwrite)
    keras.utils.set_random_seed(config.seed)
    roots = config.data or [datasets.download_default_dataset()]
    weights = config.weights
    if weights not in (None, "imagenet"):
        weights = str(Path(weights).absolute())
    config = replace(
        config,
        data=[root.absolute() for root in roots],
        output=config.output.absolute(),
        weights=weights,
    )
    files = _list_files(config)
    labels = datasets.default_labels(files.class_dirs, config.labels)
    # Before decoding the photos (minutes on a real data set): bad or unreachable weights show.
    model, _ = recipe.build_model(_size(config), len(labels), config.weights)
    for note in files.notes:
        say(note)
    state = {
        "config": _settings(config),
        "fingerprint": datasets.fingerprint(files.all(), config.data),
        "epochs_done": 0,
        "history": {},
        "parameters": {"stage1": recipe.parameter_counts(model)},
    }
    work = runs.start(config.output, state)
    return _carry_on(_Run(config, work, files, labels, state), model, say)


def resume(path: Path, say: Callable[[str], None] = print, **changes: Any) -> TrainResult:
    """Go on with the unfinished run in ``path`` (or ``path``.partial) from its last epoch.

    ``changes`` may set the options of ``RESUME_CHANGES`` (such as ``ship="float32"``); every
    other setting is the run's own. The data must be the photos the run started with.
    """
    unknown = sorted(set(changes) - set(RESUME_CHANGES))
    if unknown:
        raise CatsortError(
            f"--resume continues a run with its own settings; {', '.join(unknown)} cannot "
            "change (only --ship, --gate, --figures and --verbose can)"
        )
    work = runs.unfinished(path)
    state = runs.read_state(work)
    config = _config_from(state["config"], changes)
    _check_choices(config)
    files = _list_files(config)
    if datasets.fingerprint(files.all(), config.data) != state["fingerprint"]:
        raise CatsortError(
            f"{', '.join(map(str, config.data))}: not the photos the run in {work} started with "
            "(files were added, removed or changed); start a new run"
        )
    labels = datasets.default_labels(files.class_dirs, config.labels)
    state["config"] = _settings(config)
    runs.write_state(work, state)
    checkpoint = work / runs.CHECKPOINT
    if state["epochs_done"] and checkpoint.is_file():
        model = keras.models.load_model(checkpoint)
    else:
        model, _ = recipe.build_model(_size(config), len(labels), config.weights)
        state["epochs_done"], state["history"] = 0, {}
    keras.utils.set_random_seed(config.seed + state["epochs_done"])
    run = _Run(config, work, files, labels, state, resumed=True)
    say(f"Resuming {work} after epoch {run.epochs_done} of {run.total_epochs}")
    return _carry_on(run, model, say)


def _carry_on(run: _Run, model: keras.Model, say: Callable[[str], None]) -> TrainResult:
    """Train, export and finish ``run``; say what a stop or a failure leaves behind."""
    try:
        return _train_and_export(run, model, say)
    except (_Stopped, KeyboardInterrupt) as stop:
        runs.discard_models(run.work)  # an export cut short: nothing --model should take
        where = stop if isinstance(stop, _Stopped) else None
        raise KeyboardInterrupt(_stopped_message(run, where)) from None
    except BaseException:
        if run.epochs_done == 0 and not run.resumed:
            shutil.rmtree(run.work, ignore_errors=True)  # nothing worth going on with
        else:
            runs.discard_models(run.work)
            if not run.said_kept:
                say(run.kept())
        raise


def _stopped_message(run: _Run, stop: _Stopped | None) -> str:
    """One line: where Ctrl-C stopped the run, what is lost, what is kept, how to go on."""
    if stop is None:
        lost = f"Stopped while {run.phase}: that step starts again"
    elif stop.batch is None:
        lost = f"Stopped after stage {stop.stage}'s epoch {stop.epoch}/{stop.epochs}: nothing lost"
    else:
        lost = (
            f"Stopped at batch {stop.batch} of {stop.steps} of stage {stop.stage}'s epoch "
            f"{stop.epoch}/{stop.epochs}: that epoch's batches are lost"
        )
    return f"{lost}. {run.kept()}"


def _train_and_export(run: _Run, model: keras.Model, say: Callable[[str], None]) -> TrainResult:
    config, work = run.config, run.work
    train_photos, val_photos, test_photos = decode_splits(
        run.files, _size(config), config.data, work if config.decode_cache else None, say
    )
    for photos, name in ((train_photos, "training"), (val_photos, "validation")):
        _check_classes(photos, run.labels, config.data, name)
    _check_classes(test_photos, run.labels, config.data, "test")
    say(
        f"{len(train_photos):,} training, {len(val_photos):,} validation, {len(test_photos):,} "
        f"test images; labels {', '.join(run.labels)}"
    )
    weights, unequal = datasets.class_weights(run.files)
    if unequal:
        say(unequal)
    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)],
        name="augmentation",
    )
    run.phase = "training"
    model = _fit(run, model, train_photos, val_photos, augment, weights, say)
    run.phase = "exporting"
    model.save(work / "model.keras")  # so `python -m catsort.training.convert` can export again
    history = run.state["history"]
    (work / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    info = {
        "training": {k: v for k, v in _settings(config).items() if k not in _NOT_RECORDED},
        "parameters": run.state["parameters"],
        "data": {
            "root": str(config.data[0]),
            "roots": [str(root) for root in config.data],
            "class_folders": run.files.class_dirs,
            "train_images": len(train_photos),
            "validation_images": len(val_photos),
            "test_images": len(test_photos),
            "class_weights": weights,
            "fingerprint": run.state["fingerprint"],
        },
    }
    try:
        shipped = export_trained(
            model,
            run.labels,
            (train_photos, val_photos, test_photos),
            config,
            info,
            say,
            folder=work,
            float_remedy=runs.resume_command(work, "--ship", "float32"),
        )
    except CatsortError as exc:
        runs.discard_models(work)
        run.said_kept = True
        raise CatsortError(
            f"{exc}. Kept {work}: the trained model, no model to classify with",
            kind=exc.kind,
        ) from None
    if config.figures:
        run.phase = "drawing the figures"
        _figures(config, history, train_photos, augment, run.labels, work)
        test_predictions_figure(work, test_photos, run.labels)
    runs.finish(work, config.output)
    return TrainResult(
        model_path=config.output / "catsort.tflite",
        metadata_path=config.output / "catsort.json",
        metrics=shipped,
        parameters=run.state["parameters"],
        labels=run.labels,
    )


def decode_splits(
    files: datasets.FileLists,
    size: tuple[int, int],
    roots: list[Path],
    work: Path | None,
    say: Callable[[str], None] = print,
) -> tuple[Photos, Photos, Photos]:
    """Decode the training, validation and test photos once; keep them under ``work``.

    Without ``work``, or without room on its disk, they are only checked, and decoded again
    whenever they are read.
    """
    everything = len(files.all())
    cache = work is not None and room_for(work, everything, size)
    if work is not None and not cache:
        say(
            f"Not enough free disk space in {work} to keep the {everything:,} photos decoded "
            f"({everything * size[0] * size[1] * 3 / 1e9:.1f} GB): decoding them again on each "
            "epoch, which is slower"
        )
    folder = work / runs.DECODED if work is not None and cache else None
    if folder is not None:
        folder.mkdir(exist_ok=True)
    say(f"Loading images from {', '.join(map(str, roots))} at {size[0]}x{size[1]} ...")
    parts = {"train": files.train, "validation": files.validation, "test": files.test}
    with logs.bar(everything, "Reading photos") as bar:

        def warn(message: str) -> None:
            bar.clear()
            say(f"warning: {message}")

        decoded = [
            decode(part, size, folder / f"{name}.u8" if folder else None, warn, bar.update)
            for name, part in parts.items()
        ]
    return decoded[0], decoded[1], decoded[2]


def _fit(
    run: _Run,
    model: keras.Model,
    train_photos: Photos,
    val_photos: Photos,
    augment: keras.Model,
    weights: list[float] | None,
    say: Callable[[str], None],
) -> keras.Model:
    """The recipe's two stages, from the run's last finished epoch on."""
    config = run.config
    classes = len(run.labels)
    first, stage1_end = run.epochs_done, config.epochs
    val_ds = stream.dataset(val_photos, config.batch_size, classes)
    train_ds = stream.dataset(
        train_photos,
        config.batch_size,
        classes,
        shuffle_seed=config.seed + first,
        augment=augment,
        class_weights=weights,
    )
    steps = stream.steps(train_photos, config.batch_size)
    if first < stage1_end:
        rate = config.learning_rate
        start = f", from epoch {first + 1}" if first else ""
        say(f"Stage 1: frozen base, new head (Adam {rate:g}, {config.epochs} epochs{start})")
        if not first:  # a checkpoint comes compiled, with its optimizer's state
            recipe.compile_model(model, classes, keras.optimizers.Adam(rate))
        _fit_stage(run, model, train_ds, val_ds, 1, (first, stage1_end), steps, say)
    if run.epochs_done < run.total_epochs:
        rate = config.learning_rate / 10
        done_in_stage = run.epochs_done - stage1_end
        start = f", from epoch {done_in_stage + 1}" if done_in_stage else ""
        say(
            f"Stage 2: fine-tune from layer {config.fine_tune_at} (RMSprop {rate:g}, "
            f"{config.fine_tune_epochs} epochs{start})"
        )
        if not done_in_stage:
            recipe.unfreeze_from(recipe.base_of(model), config.fine_tune_at)
            recipe.compile_model(model, classes, keras.optimizers.RMSprop(rate))
            run.state["parameters"]["stage2"] = recipe.parameter_counts(model)
        _fit_stage(run, model, train_ds, val_ds, 2, (run.epochs_done, run.total_epochs), steps, say)
    return model


def _fit_stage(
    run: _Run,
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    stage: int,
    epochs: tuple[int, int],
    steps: int,
    say: Callable[[str], None],
) -> None:
    """Fit epochs ``epochs[0]`` to ``epochs[1]`` (counted over both stages) of one stage."""
    offset = 0 if stage == 1 else run.config.epochs
    count = run.config.epochs if stage == 1 else run.config.fine_tune_epochs
    with _StopRequest() as stop:
        # shuffle=False: the dataset shuffles itself each epoch; Keras' own flag would only
        # print a warning that it ignores it.
        model.fit(
            train_ds,
            validation_data=val_ds,
            initial_epoch=epochs[0],
            epochs=epochs[1],
            callbacks=[_Epochs(run, stage, offset, count, steps, stop, say)],
            verbose=0,
            shuffle=False,
        )


class _StopRequest:
    """Ctrl-C (or SIGTERM: a shutdown, a job scheduler) while fitting asks for a stop at the
    next batch; a second one stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                number: signal.signal(number, self._handle) for number in self.SIGNALS
            }
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)


class _Epochs(keras.callbacks.Callback):
    """Each epoch of a stage: a bar, then a line and a checkpoint; a stop when asked."""

    def __init__(
        self,
        run: _Run,
        stage: int,
        offset: int,
        count: int,
        steps: int,
        stop: _StopRequest,
        say: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.run, self.stage, self.offset, self.count = run, stage, offset, count
        self.steps, self.stop, self.say = steps, stop, say
        self.epoch = 0
        self.started = 0.0
        self.bar: Any = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch - self.offset + 1  # the stage's own count
        self.started = time.perf_counter()
        self.bar = logs_bar(self.steps, f"Stage {self.stage}, epoch {self.epoch}/{self.count}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(1)
        if logs and "accuracy" in logs:
            self.bar.set_postfix(
                loss=f"{float(logs['loss']):.3f}", accuracy=f"{float(logs['accuracy']):.1%}"
            )
        if self.stop.requested:
            self.bar.close()
            raise _Stopped(self.stage, self.epoch, self.count, batch + 1, self.steps)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.bar.close()
        seconds = time.perf_counter() - self.started
        logs = {key: float(value) for key, value in (logs or {}).items()}
        _checkpoint(self.run, self.model, logs, seconds)
        self.say(
            f"Stage {self.stage}, epoch {self.epoch}/{self.count}: "
            + ", ".join(_shown(key, value) for key, value in logs.items())
            + f" ({seconds:.0f} s)"
        )
        if self.stop.requested:  # pressed during validation: the epoch is whole and kept
            raise _Stopped(self.stage, self.epoch, self.count, None, self.steps)


def logs_bar(total: int, description: str) -> Any:
    """A bar of training batches."""
    return logs.bar(total, description, unit="batch")


def _shown(key: str, value: float) -> str:
    name = key.replace("val_", "validation ")
    return f"{name} {value:.1%}" if key.endswith("accuracy") else f"{name} {value:.3f}"


def _checkpoint(run: _Run, model: keras.Model, logs: dict[str, float], seconds: float) -> None:
    """Save the model after an epoch, then count the epoch as done (in that order)."""
    temporary = run.work / "checkpoint.tmp.keras"
    model.save(temporary)
    os.replace(temporary, run.work / runs.CHECKPOINT)
    history = run.state["history"]
    for key, value in logs.items():
        history.setdefault(key, []).append(value)
    history.setdefault("seconds", []).append(round(seconds, 2))
    run.state["epochs_done"] += 1
    runs.write_state(run.work, run.state)


def export_trained(
    model: keras.Model,
    labels: tuple[str, ...],
    splits: tuple[Photos, Photos, Photos],
    config: TrainConfig,
    info: dict,
    say: Callable[[str], None] = print,
    with_gate: bool = True,
    folder: Path | None = None,
    float_remedy: str = "--ship float32",
) -> dict:
    """Fit the pet gate, convert to int8 and float32 TFLite, check them; return shipped metrics.

    Writes into ``folder`` (default ``config.output``). ``with_gate=False`` leaves the gate out
    (only to measure what it costs). ``float_remedy`` is the command that ships the float32
    model instead, named when the int8 one fails its check.
    """
    train_photos, val_photos, test_photos = splits
    folder = folder or config.output
    size = (config.img_size, config.img_size)
    keras_head = _accuracy(_predict(model, test_photos, config.batch_size), test_photos.labels)
    say(f"Keras test accuracy of the fine-tuned head: {keras_head:.1%}")

    rng = np.random.default_rng(config.seed)
    calibration = train_photos.subset(
        rng.choice(
            len(train_photos), min(config.calibration_images, len(train_photos)), replace=False
        )
    )
    fitting = train_photos
    if len(train_photos) > config.gate_photos:
        fitting = train_photos.subset(
            np.sort(rng.choice(len(train_photos), config.gate_photos, replace=False))
        )
        say(
            f"The pet gate and the second opinion are fitted on {len(fitting):,} of the "
            f"{len(train_photos):,} training photos (a random sample)"
        )
    pet_gate: gate.PhotoGate | gate.NeighbourGate | None = None
    branch = None
    if with_gate and config.gate == "mahalanobis":
        original = recipe.build_base(size, config.weights)
        branch = recipe.frozen_branch_model(model, original, config.fine_tune_at)
    elif with_gate and config.gate == "knn":
        say("Fitting the pet gate on the training photos' features ...")
        pet_gate = gate.fit_neighbours(
            _predict(recipe.feature_model(model), fitting, config.batch_size),
            fitting.labels,
            seed=config.seed,
        )
    elif with_gate:
        raise CatsortError(f"unknown gate {config.gate!r}; use {' or '.join(gate.GATE_KINDS)}")
    region_head, region_fitting = None, None
    if branch is not None and config.others is not None:
        pets = list(zip(fitting.paths, (int(label) for label in fitting.labels)))
        region_fitting = regions.fitting_set(pets, Path(config.others), config.seed, say)
        region_head = regions.fit_region_head(
            branch, fitting.batches(64), region_fitting, size, config.seed, say
        )
    folder.mkdir(parents=True, exist_ok=True)
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
            started = time.perf_counter()
            pet_gate, reference, second_opinion = _fit_photo_gate(
                branch, quantization, calibration, (fitting, val_photos), config
            )
            seconds = time.perf_counter() - started
            say(f"Fitted the pet gate and the second opinion in {seconds:.0f} s")
        exported = recipe.export_model(
            model, pet_gate, branch, second_opinion, region_head and region_head.layer()
        )
        keras_logits = _predict(exported, test_photos, config.batch_size)["logits"]
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
        path = folder / f"{name}.tflite"
        started = time.perf_counter()
        with _counting(calibration, f"Quantising to {quantization}", quantization) as photos:
            path.write_bytes(
                export.convert(
                    exported,
                    quantization,
                    photos,
                    quiet=not config.tensorflow_logs,
                    float_layers=tuple(config.float_layers),
                )
            )
        if quantization == "int8":
            say(f"Quantised in {time.perf_counter() - started:.0f} s")
        metrics = _finish_variant(
            path,
            quantization,
            labels,
            size,
            common,
            (val_photos, test_photos),
            keras_logits,
            keras_head,
            config,
            reference,
            float_remedy,
            say,
        )
        if metrics is not None:
            variants[quantization] = metrics
        if region_head is not None and region_fitting is not None:
            regions.add_regions(path, region_head, region_fitting, say)
    for quantization, metrics in variants.items():
        say(
            f"{quantization}: test accuracy {metrics['tflite_test_accuracy']:.1%} "
            f"(Keras {metrics['keras_test_accuracy']:.1%}, as exported), "
            f"{metrics['size_bytes'] / 1e6:.1f} MB, {metrics['ms_per_image']:.1f} ms/image"
        )
    return variants[config.ship]


class _Counted:
    """Photos that advance a progress bar as they are read (by the converter, for one)."""

    def __init__(self, photos: Photos, advance: Callable[[int], object]) -> None:
        self.photos, self.advance = photos, advance

    def __len__(self) -> int:
        return len(self.photos)

    def __iter__(self) -> Iterator[np.ndarray]:
        for image in self.photos:
            self.advance(1)
            yield image


class _counting:
    """A bar over the calibration photos while a model is quantised (int8 only)."""

    def __init__(self, photos: Photos, description: str, quantization: str) -> None:
        self.photos, self.description, self.quantization = photos, description, quantization
        self.bar: Any = None

    def __enter__(self) -> _Counted | Photos:
        if self.quantization != "int8":
            return self.photos
        self.bar = logs.bar(len(self.photos), self.description)  # the converter reads each once
        return _Counted(self.photos, self.bar.update)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _fit_photo_gate(
    branch: keras.Model,
    quantization: str,
    calibration: Photos,
    splits: tuple[Photos, Photos],
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
    fitting = splits[0]
    inputs = keras.Model(
        branch.input,
        {"content": branch.output["branch_features"], "statistics": branch.output["statistics"]},
    )
    if quantization == "float32":
        train, val = (_predict(inputs, split, config.batch_size) for split in splits)
    else:
        with _counting(calibration, "Quantising the gate's branch", quantization) as photos:
            converted = export.convert(
                inputs, quantization, photos, quiet=True, float_layers=tuple(config.float_layers)
            )
        with logs.bar(sum(map(len, splits)), "Reading the int8 branch's features") as bar:
            train, val = (export.run_outputs(converted, _Counted(s, bar.update)) for s in splits)
    fitted = gate.fit_photo_gate(
        train["content"],
        train["statistics"],
        fitting.labels,
        (val["content"], val["statistics"]),
        config.gate_reject_rate,
        seed=config.seed,
    )
    units = int(branch.output["logits"].shape[-1])
    second_opinion = recipe.fit_second_opinion(
        train["content"], fitting.labels, 2 if units == 1 else units, config.seed
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
    splits: tuple[Photos, Photos],
    keras_logits: np.ndarray,
    keras_head: float,
    config: TrainConfig,
    reference: np.ndarray | None,
    float_remedy: str,
    say: Callable[[str], None],
) -> dict | None:
    """Calibrate thresholds on the TFLite model itself, check it, write its metadata.

    The check compares like with like: the TFLite model's labels for the test photos against
    those of the Keras model it was converted from (``keras_logits``: the same heads, the same
    gate), and allows ``export.allowed_flips`` of them to differ. A shipped variant that fails
    stops the run; the other is not written. Returns the metrics, or None for a variant left
    out. ``reference``: the validation photos' float pet scores of a gate that set its own
    limits; the threshold then carries those limits over (``gate.threshold_for_drift``).
    """
    val_photos, test_photos = splits
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
    val_logits, val_scores, _ = export.run_tflite(path, val_photos.batches(config.batch_size))
    test_logits, test_scores, seconds = export.run_tflite(
        path, test_photos.batches(config.batch_size), threads=1
    )
    val_probs = export.probabilities(val_logits)
    test_probs = export.probabilities(test_logits)
    threshold = export.confidence_threshold(val_probs, val_photos.labels, config.confidence_target)
    if val_scores is None:
        gate_threshold = None
    elif reference is not None:
        gate_threshold = round(gate.threshold_for_drift(reference, val_scores), 6)
    else:
        gate_threshold = round(gate.score_threshold(val_scores, config.gate_reject_rate), 6)
    test_accuracy = _accuracy(test_logits, test_photos.labels)
    keras_test = _accuracy(keras_logits, test_photos.labels)
    flips = int((_predicted(test_logits) != _predicted(keras_logits)).sum())
    confident = test_probs.max(axis=1) >= threshold
    metrics = {
        "keras_test_accuracy": round(keras_test, 4),
        "keras_head_test_accuracy": round(keras_head, 4),
        "tflite_test_accuracy": round(test_accuracy, 4),
        "tflite_validation_accuracy": round(_accuracy(val_logits, val_photos.labels), 4),
        "test_disagreements": flips,
        "test_confident_share": round(float(confident.mean()), 4),
        "test_confident_accuracy": round(
            float((test_probs.argmax(1) == test_photos.labels)[confident].mean())
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
    allowed = export.allowed_flips(len(test_photos))
    if flips <= allowed:
        return metrics
    problem = (
        f"{path.name}: the {quantization} model labels {flips} of {len(test_photos)} test photos "
        f"otherwise than the Keras model it was converted from (a faithful conversion: at most "
        f"{allowed}; test accuracy {test_accuracy:.1%} against {keras_test:.1%})"
    )
    if quantization != config.ship:
        say(f"warning: {problem}; not written")
        path.unlink()
        path.with_suffix(".json").unlink()
        return None
    if quantization == "int8":
        remedy = f"ship the float32 model instead: {float_remedy}"
    else:
        remedy = "the converter changed the model; please report it, with the output of --verbose"
    raise CatsortError(f"{problem}; {remedy}", kind=FAILED)


def _predict(model: keras.Model, photos: Photos, batch_size: int) -> Any:
    """An array of outputs, or a dict of them for a model whose outputs are named."""
    return model.predict(stream.dataset(photos, batch_size), verbose=0)


def _predicted(logits: np.ndarray) -> np.ndarray:
    return export.probabilities(logits).argmax(axis=1)


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((_predicted(logits) == labels).mean())


def _check_classes(photos: Photos, labels: tuple[str, ...], roots: list[Path], name: str) -> None:
    counts = np.bincount(photos.labels, minlength=len(labels))
    empty = [label for label, count in zip(labels, counts) if count == 0]
    if empty:
        where = ", ".join(map(str, roots))
        raise CatsortError(f"{where}: no readable {name} images for {', '.join(empty)}")


def _check_choices(config: TrainConfig) -> None:
    if config.gate not in gate.GATE_KINDS:
        raise CatsortError(f"unknown gate {config.gate!r}; use {' or '.join(gate.GATE_KINDS)}")
    if config.ship not in ("int8", "float32"):
        raise CatsortError(f"--ship {config.ship}: use int8 or float32")
    if config.others is not None:
        regions.check_others(Path(config.others))


def _size(config: TrainConfig) -> tuple[int, int]:
    return (config.img_size, config.img_size)


def _list_files(config: TrainConfig) -> datasets.FileLists:
    return datasets.list_files(
        config.data,
        config.val_split,
        config.test_fraction,
        config.seed,
        leave_out=[config.output, runs.partial_folder(config.output)],
    )


def _settings(config: TrainConfig) -> dict[str, Any]:
    """The settings as JSON values (paths as strings)."""
    values: dict[str, Any] = {}
    for key, value in asdict(config).items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, list):
            value = [str(item) for item in value]
        values[key] = value
    return values


def _config_from(settings: dict[str, Any], changes: dict[str, Any]) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    values = {key: value for key, value in settings.items() if key in known}
    values["data"] = [Path(path) for path in values.get("data") or []]
    values["output"] = Path(values["output"])
    if values.get("others") is not None:
        values["others"] = Path(values["others"])
    if "float_layers" in values:  # a list in run.json
        values["float_layers"] = tuple(values["float_layers"])
    return TrainConfig(**{**values, **changes})


def _figures(
    config: TrainConfig,
    history: dict,
    train_photos: Photos,
    augment: keras.Model,
    labels: tuple[str, ...],
    out: Path,
) -> None:
    from . import figures

    if history.get("loss"):
        figures.learning_curves(history, config.epochs, out / "learning_curves.png")
    first = range(min(12, len(train_photos)))
    figures.photo_grid(
        train_photos.take(first),
        [labels[i] for i in train_photos.labels[: len(first)]],
        out / "training_photos.jpg",
    )
    figures.augmentation_grid(
        train_photos.pixels(0),
        lambda image: np.clip(augment(image[None].astype(np.float32), training=True)[0], 0, 255),
        out / "augmentation.jpg",
    )


def test_predictions_figure(output: Path, test_photos: Photos, labels: tuple[str, ...]) -> None:
    """A grid of test photos with the exported model's labels, mistakes marked."""
    from catsort.model import load_model

    from . import figures

    classifier = load_model(output / "catsort.json")
    shown = range(min(16, len(test_photos)))
    picks = test_photos.take(shown)
    predicted = export.probabilities(classifier.predict(picks).logits).argmax(axis=1)
    truth = test_photos.labels[: len(shown)]
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
