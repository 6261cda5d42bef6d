"""The most this machine allows: decoding and the model per photo, on every core at once.

The ceiling of a corpus is ``cores x 1000 / (decode + model)`` photos a second, where decode is
``load_image``'s milliseconds per photo of that corpus on one thread and model the shipped
model's milliseconds per photo on one thread in batches of 8 (classify's default), both measured
in this process just before, as CPU time: on an idle machine that is the wall time, and where
other programs share the cores it is still what the photos cost. It leaves out everything else
a run does (start-up, walking the folders, the CSV), so no program reaches it: how close catsort
gets is the measure of its pipeline.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from measure import median

from catsort.images import load_image
from catsort.model import load_model

BATCH = 8


@dataclass(frozen=True)
class Ceiling:
    """Per-photo costs on one thread, and what the machine's cores allow from them."""

    decode_ms: float
    model_ms: float
    cores: int
    photos: int  # how many photos the costs were measured on

    @property
    def per_second(self) -> float:
        """Photos a second with every core decoding and running the model, nothing else."""
        return self.cores * 1000 / (self.decode_ms + self.model_ms)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def measure_ceiling(paths: list[Path], model_path: Path, repeats: int = 3) -> Ceiling:
    """Time load_image and the model (one thread each) on ``paths``; medians of ``repeats``."""
    model = load_model(model_path, 1)
    size = model.metadata.input_size
    for path in paths:
        path.read_bytes()  # the page cache, as for the timed runs
    decode, pixels = [], []
    for _ in range(repeats):
        started = time.process_time()
        pixels = [load_image(path, size) for path in paths]
        decode.append((time.process_time() - started) / len(paths) * 1000)
    batches = [np.stack(pixels[i : i + BATCH]) for i in range(0, len(pixels), BATCH)]
    model.predict(batches[0])  # the first call allocates
    if len(batches[-1]) != BATCH and len(batches) > 1:
        batches.pop()  # a short last batch would resize the interpreter twice a pass
    inference = []
    for _ in range(repeats):
        started = time.process_time()
        for batch in batches:
            model.predict(batch)
        inference.append((time.process_time() - started) / sum(map(len, batches)) * 1000)
    return Ceiling(median(decode), median(inference), usable_cores(), len(paths))


def sample(paths: list[Path], most: int) -> list[Path]:
    """At most ``most`` of the paths, spread evenly over them (mixed folders stay mixed)."""
    if len(paths) <= most:
        return paths
    step = len(paths) / most
    return [paths[int(i * step)] for i in range(most)]
