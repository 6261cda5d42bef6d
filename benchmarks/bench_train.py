"""Benchmark `catsort train` at two data sizes: peak memory of the whole process, s/epoch.

    python benchmarks/bench_train.py                         # 7,000 and 30,000 photos
    python benchmarks/bench_train.py --sizes 3000 --epochs 2
    python benchmarks/bench_train.py --source /tmp/main      # another checkout, same way
    python benchmarks/bench_train.py --inputs                # the input pipelines alone

Each size is a training set made from ``cats_and_dogs_filtered``: its 2,000 training photos,
their mirror images and crops (mirrored or not) until the size is reached, plus its 1,000
validation photos as they are. They are written once under ``--workdir`` (never the repository;
for measuring only) and reused. Each run is one whole ``catsort train`` process with the offline
weights, one epoch per stage unless ``--epochs`` says more; its peak RSS comes from the kernel
(ru_maxrss, benchmarks/measure.py) and its epoch times from a Keras callback this script adds
to every ``fit`` of the child, so a checkout without catsort's own epoch timing (``--source``)
is timed the same way. Figures are medians over ``--repeats``; other work on the machine moves
the wall times, less the CPU seconds (all threads), so compare checkouts within one run of this
script, by both.

``--inputs`` compares the epochs themselves, in one process on ``cats_and_dogs_filtered``: the
same model trains alternately on the streamed pipeline (``training/stream.py``, photos read
back from their decoded records) and on the whole data set held in memory as catsort did
before (``tf.data.Dataset.from_tensor_slices`` of one uint8 array, shuffled in a buffer of the
whole set), stage 1 and stage 2, ``--repeats`` epochs each, so that both see the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from measure import cpu_busy, machine_facts, median, run_measured
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_DATA = SHARED / "data" / "cats_and_dogs_filtered"
DEFAULT_WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_224_no_top.h5"
#: Bump when the way a set is made changes, so that old sets are not reused.
VERSION = 1

# Run inside the child before catsort: every fit of the recipe's model (named "catsort"; not the
# second opinion's small head) gets a callback that appends each epoch's seconds (training and
# validation), wall clock and CPU (all threads), to the file named in CATSORT_BENCH_EPOCHS.
_CHILD = """
import json, os, sys, time
import keras

class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        wall, cpu = time.perf_counter() - self.started[0], time.process_time() - self.started[1]
        with open(os.environ["CATSORT_BENCH_EPOCHS"], "a") as out:
            out.write(json.dumps({"epoch": epoch, "seconds": wall, "cpu": cpu}) + "\\n")

_fit = keras.Model.fit

def fit(self, *args, callbacks=None, **kwargs):
    if self.name == "catsort":
        callbacks = [*(callbacks or []), _EpochTimer()]
    return _fit(self, *args, callbacks=callbacks, **kwargs)

if os.environ.get("CATSORT_BENCH_EPOCHS"):
    keras.Model.fit = fit
from catsort.cli import app
sys.argv = ["catsort", *sys.argv[1:]]
app()
"""


def main() -> int:
    """Make the sets, train on each, print the table."""
    args = parse_args()
    if args.inputs:
        return compare_inputs(args)
    facts = machine_facts()
    busy = cpu_busy()
    print(f"# catsort train: peak memory and time per epoch ({time.strftime('%Y-%m-%d %H:%M')})")
    print(
        f"source: {args.source or REPO}; machine: {facts['CPU']}, {facts['cores']} cores, "
        f"{facts['memory']}; CPU in use by others at start: "
        f"{'unknown' if busy is None else f'{busy:.0%}'}; load {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for size in args.sizes:
        data = training_set(size, args.data, args.workdir)
        runs = [train_once(args, data) for _ in range(args.repeats)]
        failed = [run for run in runs if run["exit_code"] != 0]
        if failed:
            print(
                f"{size:,} photos: catsort train failed (exit {failed[0]['exit_code']}):\n"
                f"{failed[0]['stderr']}",
                file=sys.stderr,
            )
            return 1
        rows.append((size, runs))
    print()
    print("| photos | peak RSS | s/epoch, stage 1 (CPU s) | stage 2 (CPU s) | whole run |")
    print("|---:|---:|---:|---:|---:|")
    for size, runs in rows:
        stage1, stage2, cpu1, cpu2 = (
            median([s for run in runs for s in run[key]])
            for key in ("stage1", "stage2", "cpu1", "cpu2")
        )
        peak = median([run["peak_mb"] for run in runs]) / 1024
        minutes = median([run["seconds"] for run in runs]) / 60
        print(
            f"| {size:,} | {peak:.2f} GB | {stage1:.0f} ({cpu1:.0f}) | {stage2:.0f} ({cpu2:.0f}) "
            f"| {minutes:.1f} min |"
        )
    if len(rows) > 1:
        first, last = (median([run["peak_mb"] for run in runs]) for _, runs in (rows[0], rows[-1]))
        print(f"\npeak RSS at {rows[-1][0]:,} photos: {last / first:.2f}x that at {rows[0][0]:,}")
    return 0


def train_once(args: argparse.Namespace, data: Path) -> dict:
    """One whole `catsort train` process: its peak RSS, wall time and epoch times."""
    with tempfile.TemporaryDirectory(prefix="catsort-bench-train-", dir=args.workdir) as scratch:
        epochs_file = Path(scratch) / "epochs.jsonl"
        os.environ["CATSORT_BENCH_EPOCHS"] = str(epochs_file)
        if args.source:
            os.environ["PYTHONPATH"] = str(args.source)
        command = [
            sys.executable,
            "-c",
            _CHILD,
            "train",
            "--data",
            str(data),
            "--weights",
            str(args.weights),
            "--output",
            str(Path(scratch) / "run"),
            "--epochs",
            str(args.epochs),
            "--fine-tune-epochs",
            str(args.epochs),
            "--no-figures",
        ]
        run = run_measured(command, cwd=Path(scratch))
        epochs = (
            [json.loads(line) for line in epochs_file.read_text().splitlines()]
            if (epochs_file.exists())
            else []
        )
    seconds = [e["seconds"] for e in epochs]
    cpu = [e["cpu"] for e in epochs]
    result = {
        "exit_code": run.exit_code,
        "stderr": run.stderr_tail,
        "peak_mb": run.peak_rss_mb,
        "seconds": run.seconds,
        # The recipe's two stages come first; a checkout whose later small fits share the
        # model's name (main's second opinion did) adds epochs after them, not counted.
        "stage1": seconds[: args.epochs],
        "stage2": seconds[args.epochs : 2 * args.epochs],
        "cpu1": cpu[: args.epochs],
        "cpu2": cpu[args.epochs : 2 * args.epochs],
    }
    print(
        f"{data.name}: exit {run.exit_code}, peak RSS {run.peak_rss_mb / 1024:.2f} GB, "
        f"{run.seconds / 60:.1f} min, epochs (wall / CPU) "
        + ", ".join(f"{s:.0f} / {c:.0f} s" for s, c in zip(seconds[: 2 * args.epochs], cpu))
        + f", load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return result


def compare_inputs(args: argparse.Namespace) -> int:
    """Epochs on the streamed pipeline and on the data set in memory, alternating; a table."""
    import keras
    import numpy as np
    import tensorflow as tf
    from catsort.training import data as datasets
    from catsort.training import photos, recipe, stream

    files = datasets.list_files(args.data)
    size = (224, 224)
    train, val = (
        photos.decode(part, size, args.workdir / f"inputs-{name}.u8")
        for name, part in (("train", files.train), ("validation", files.validation))
    )
    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)]
    )

    def in_memory(split: photos.Photos, shuffle: bool) -> tf.data.Dataset:
        images = split.take(range(len(split)))  # what catsort held before
        ds = tf.data.Dataset.from_tensor_slices((images, split.labels.astype(np.float32)))
        if shuffle:
            ds = ds.shuffle(len(split), seed=0, reshuffle_each_iteration=True)
        ds = ds.batch(32).map(lambda x, y: (tf.cast(x, tf.float32), y))
        if shuffle:
            ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=-1)
        return ds.prefetch(tf.data.AUTOTUNE)

    pipelines = {
        "in memory": (in_memory(train, True), in_memory(val, False)),
        "streamed": (
            stream.dataset(train, 32, 2, shuffle_seed=0, augment=augment),
            stream.dataset(val, 32, 2),
        ),
    }
    model, base = recipe.build_model(size, 2, str(args.weights))
    times: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for stage in (1, 2):
        if stage == 1:
            recipe.compile_model(model, 2, keras.optimizers.Adam(3e-4))
        else:
            recipe.unfreeze_from(base, 100)
            recipe.compile_model(model, 2, keras.optimizers.RMSprop(3e-5))
        for train_ds, val_ds in pipelines.values():  # traced once, not timed
            model.fit(train_ds.take(1), validation_data=val_ds.take(1), verbose=0)
        for _ in range(args.repeats):
            for name, (train_ds, val_ds) in pipelines.items():
                started = time.perf_counter(), time.process_time()
                model.fit(train_ds, validation_data=val_ds, verbose=0, shuffle=False)
                wall = time.perf_counter() - started[0]
                cpu = time.process_time() - started[1]
                times.setdefault((stage, name), []).append((wall, cpu))
                print(
                    f"stage {stage}, {name}: {wall:.0f} s ({cpu:.0f} CPU s), "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    print("\n| epoch (2,000 photos, 224x224) | in memory | streamed | ratio |")
    print("|---|---:|---:|---:|")
    for stage in (1, 2):
        memory, streamed = (times[(stage, name)] for name in pipelines)
        for index, unit in ((0, "s"), (1, "CPU s")):
            a = median([t[index] for t in memory])
            b = median([t[index] for t in streamed])
            print(f"| stage {stage}, {unit} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    return 0


def training_set(size: int, source: Path, workdir: Path) -> Path:
    """``size`` photos: the source's validation photos and training photos with variants."""
    folder = workdir / f"train-{size}-v{VERSION}"
    done = folder / ".complete"
    if done.exists():
        return folder
    validation = sorted((source / "validation").rglob("*.jpg"))
    train = sorted((source / "train").rglob("*.jpg"))
    wanted = size - len(validation)
    if wanted < len(train):
        raise SystemExit(f"--sizes {size}: at least {len(train) + len(validation)} photos")
    print(f"making {folder} ({wanted:,} training photos) ...", flush=True)
    for path in validation:
        target = folder / "validation" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    rng = random.Random(size)
    for index in range(wanted):
        path = train[index % len(train)]
        variant = index // len(train)
        target = folder / "train" / path.parent.name / f"{path.stem}.v{variant}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as img:
            img = img.convert("RGB")
            if variant >= 2:  # a crop of 75-95 % of each side, somewhere in the photo
                width, height = img.size
                w, h = (round(side * rng.uniform(0.75, 0.95)) for side in (width, height))
                left, top = rng.randint(0, width - w), rng.randint(0, height - h)
                img = img.crop((left, top, left + w, top + h))
            if variant % 2:
                img = ImageOps.mirror(img)
            img.save(target, quality=90)
    done.write_text("")
    return folder


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[7000, 30000],
        help="photos in each set, training and validation together",
    )
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each stage")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--inputs",
        action="store_true",
        help="compare the streamed pipeline's epochs with the data set held in memory",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "catsort-bench-train",
        help="where the sets and runs are written (never the repository)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="a checkout of catsort to time instead of this one (put first on PYTHONPATH)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    return args


if __name__ == "__main__":
    sys.exit(main())
