"""Where a training run writes: a new ``runs/<stamp>/`` folder, never a model by accident.

No TensorFlow here, so the command line can check the folder before it imports it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from catsort.errors import CatsortError

#: Files that mark a folder as holding a model (the shipped one in ``exported/`` among them).
MODEL_FILES = ("catsort.json", "catsort.tflite", "model.keras")
#: An unfinished run's settings and progress.
RUN_STATE = "run.json"


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a catsort run, finished (a model) or not (``run.json``)."""
    return any((folder / name).exists() for name in (*MODEL_FILES, RUN_STATE))


def new_run_folder(parent: Path = Path("runs"), now: datetime | None = None) -> Path:
    """``runs/<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3`` ... if a run in the same second took it."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder = parent / stamp
    count = 1
    while folder.exists():
        count += 1
        folder = parent / f"{stamp}-{count}"
    return folder


def check_output(folder: Path, overwrite: bool = False) -> None:
    """Refuse a file, or a folder that already holds a model unless ``overwrite`` is given."""
    if folder.exists() and not folder.is_dir():
        raise CatsortError(f"{folder}: is a file, not a folder; choose another --output")
    if overwrite or not folder.is_dir():
        return
    held = [name for name in MODEL_FILES if (folder / name).exists()]
    if held:
        raise CatsortError(
            f"{folder}: already holds a model ({', '.join(held)}); "
            "pass --overwrite to replace it, or pick another --output"
        )


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
