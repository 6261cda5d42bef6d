"""Where a training run writes: a folder that appears, under its own name, only when it succeeded.

A run works in ``<output>.partial`` (its settings and progress in ``run.json``, a checkpoint
after each epoch, the decoded photos) and is renamed to ``<output>`` when the model is exported
and checked. A run that fails or is stopped leaves the ``.partial`` folder, which ``catsort
train --resume`` continues and ``--model`` does not take.

No TensorFlow here, so the command line can check the folder before it imports it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from catsort.errors import CatsortError
from catsort.model import UNFINISHED_RUN

#: Files that mark a folder as holding a model (the shipped one in ``exported/`` among them).
MODEL_FILES = ("catsort.json", "catsort.tflite", "model.keras")
#: An unfinished run's settings, data fingerprint and progress (``--model`` refuses its folder).
RUN_STATE = UNFINISHED_RUN
#: The model after the last finished epoch, with its optimizer's state.
CHECKPOINT = "checkpoint.keras"
#: The photos decoded once for the run's epochs (``photos.decode``).
DECODED = "decoded"
PARTIAL = ".partial"


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a catsort run, finished (a model) or not (``run.json``)."""
    return any((folder / name).exists() for name in (*MODEL_FILES, RUN_STATE))


def partial_folder(output: Path) -> Path:
    """Where the run for ``output`` works until it succeeds."""
    return output.with_name(output.name + PARTIAL)


def new_run_folder(parent: Path = Path("runs"), now: datetime | None = None) -> Path:
    """``runs/<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3`` ... if a run in the same second took it."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder = parent / stamp
    count = 1
    while folder.exists() or partial_folder(folder).exists():
        count += 1
        folder = parent / f"{stamp}-{count}"
    return folder


def check_output(folder: Path, overwrite: bool = False) -> None:
    """Refuse a file, a folder that already holds a model, or one whose run is unfinished.

    ``overwrite`` lets a model be replaced, and an unfinished run's folder be started again.
    """
    if folder.exists() and not folder.is_dir():
        raise CatsortError(f"{folder}: is a file, not a folder; choose another --output")
    partial = partial_folder(folder)
    if partial.exists() and not overwrite:
        raise CatsortError(
            f"{partial}: an unfinished run for this --output; go on with it with catsort train "
            f"--resume {_quoted(partial)}, or pass --overwrite to start again"
        )
    if overwrite or not folder.is_dir():
        return
    held = [name for name in MODEL_FILES if (folder / name).exists()]
    if held:
        raise CatsortError(
            f"{folder}: already holds a model ({', '.join(held)}); "
            "pass --overwrite to replace it, or pick another --output"
        )


def start(output: Path, state: dict[str, Any]) -> Path:
    """Make the ``.partial`` folder of a new run (an old one of the same name removed)."""
    work = partial_folder(output)
    if work.exists():
        shutil.rmtree(work)  # only with --overwrite: check_output refuses otherwise
    work.mkdir(parents=True)
    write_state(work, state)
    return work


def write_state(work: Path, state: dict[str, Any]) -> None:
    """Save an unfinished run's state, whole or not at all."""
    temporary = work / (RUN_STATE + ".tmp")
    temporary.write_text(json.dumps(state, indent=1, ensure_ascii=False) + "\n")
    os.replace(temporary, work / RUN_STATE)


def read_state(work: Path) -> dict[str, Any]:
    """The state ``write_state`` saved."""
    try:
        return json.loads((work / RUN_STATE).read_text())
    except (OSError, ValueError) as exc:
        raise CatsortError(f"{work / RUN_STATE}: cannot read the run's state ({exc})") from None


def unfinished(path: Path) -> Path:
    """The ``.partial`` folder ``--resume PATH`` means: PATH itself, or PATH's ``.partial``."""
    for candidate in (path, partial_folder(path)):
        if (candidate / RUN_STATE).is_file():
            return candidate
    if (path / "catsort.json").is_file():
        raise CatsortError(f"{path}: this run finished; there is nothing to resume")
    raise CatsortError(
        f"{path}: not an unfinished catsort train run (no {RUN_STATE} in it or in "
        f"{partial_folder(path).name}); give --resume the folder a stopped run named"
    )


def finish(work: Path, output: Path) -> None:
    """Drop what only resuming needed and give the run its own name.

    Into an existing ``output`` (``--overwrite``) the files are moved one by one, replacing
    those of the same name.
    """
    for name in (CHECKPOINT, RUN_STATE):
        (work / name).unlink(missing_ok=True)
    shutil.rmtree(work / DECODED, ignore_errors=True)
    if not output.exists():
        os.replace(work, output)
        return
    for path in work.iterdir():
        target = output / path.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(path, target)
    work.rmdir()


def discard_models(work: Path) -> None:
    """Remove exported models from an unfinished run, so that nothing takes it for a model."""
    for path in work.glob("catsort*"):
        if path.suffix in (".json", ".tflite"):
            path.unlink()


def resume_command(work: Path, *options: str) -> str:
    """The command that goes on with the run in ``work``."""
    return shlex.join(["catsort", "train", "--resume", str(work), *options])


def kept_line(work: Path, epochs_done: int, epochs: int) -> str:
    """What an unfinished run's folder holds and how to go on with it."""
    if epochs_done >= epochs:
        held = f"the trained model ({epochs} epochs)"
    elif epochs_done:
        held = f"the checkpoint after epoch {epochs_done} of {epochs}"
    else:
        held = "the run's settings (no epoch finished)"
    return (
        f"Kept {work}: {held}, no model to classify with. Go on with: {resume_command(work)} "
        "(or delete the folder)"
    )


def _quoted(path: Path) -> str:
    return shlex.quote(str(path))


#: Metrics shown as percentages, and the others' units, in the summary (keys of the metadata).
PERCENT_KEYS = (
    "keras_test_accuracy",
    "keras_head_test_accuracy",
    "tflite_test_accuracy",
    "tflite_validation_accuracy",
    "test_confident_share",
    "test_confident_accuracy",
    "test_gated_out_share",
)


def summary_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The shipped model's metrics as (name, value) rows, every share a percentage."""
    names = {
        "keras_test_accuracy": "Keras test accuracy (as exported)",
        "keras_head_test_accuracy": "Keras test accuracy (fine-tuned head alone)",
        "tflite_test_accuracy": "test accuracy",
        "tflite_validation_accuracy": "validation accuracy",
        "test_confident_share": "test photos acted on (confident)",
        "test_confident_accuracy": "of those, right",
        "test_gated_out_share": "test photos gated out",
        "test_disagreements": "test photos Keras labels otherwise",
        "size_bytes": "model size",
        "ms_per_image": "time per photo (one thread)",
    }
    rows = []
    for key, value in metrics.items():
        if value is None:
            continue
        if key in PERCENT_KEYS:
            text = f"{value:.1%}"
        elif key == "size_bytes":
            text = f"{value / 1e6:.1f} MB"
        elif key == "ms_per_image":
            text = f"{value:.1f} ms"
        elif isinstance(value, float):
            text = f"{value:.4g}"
        else:
            text = str(value)
        rows.append((names.get(key, key.replace("_", " ")), text))
    return rows


#: How far above chance (1 / number of classes) a model's test accuracy must be to be worth
#: shipping. Ten points: a cat/dog model under 60 % is wrong on two photos in five; the shipped
#: one gets 98.6 %, and even a head trained on random features of these photos does better.
CHANCE_MARGIN = 0.10


def chance_warning(metrics: dict, num_classes: int, margin: float = CHANCE_MARGIN) -> str | None:
    """A warning when the test accuracy is within ``margin`` of guessing, else None."""
    accuracy = metrics.get("tflite_test_accuracy", metrics.get("keras_test_accuracy"))
    if accuracy is None or num_classes < 2:
        return None
    chance = 1 / num_classes
    if accuracy >= chance + margin:
        return None
    return (
        f"Warning: test accuracy {accuracy:.1%} is barely better than guessing "
        f"({chance:.1%} with {num_classes} classes): do not ship this model; "
        "train longer, with the ImageNet weights or more photos."
    )
