"""Where a training run writes: a new ``runs/<stamp>/`` folder, never a model by accident.

No TensorFlow here, so the command line can check the folder before it imports it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from catsort.errors import CatsortError

#: Files that mark a folder as holding a model (the shipped one in ``exported/`` among them).
MODEL_FILES = ("catsort.json", "catsort.tflite", "model.keras")


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
