"""The most this machine allows: decoding and the model per photo, on every core at once.

The ceiling of a corpus is measured, not estimated: one thread per core, each decoding its share
of the corpus' photos with ``load_image`` and running them through its own one-thread copy of
the model in batches of classify's size (catsort.types.BATCH_SIZE), with nothing else: no
start-up, no walking of folders, no results, no CSV. Photos a second over that pass are the
ceiling; no program reaches it, and how close catsort gets is the measure of its pipeline. Two
copies of the model running at once cost more CPU time a photo than one alone (shared caches and
memory: 13 % here), which is why the pass runs them together rather than multiplying one
thread's rate by the cores.

For the record, the per-photo costs on one thread are measured too, as CPU time (on an idle
machine that is the wall time, and where other programs share the cores it is still what a
photo costs).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from measure import median

from catsort.images import load_image
from catsort.model import Classifier, load_model
from catsort.types import BATCH_SIZE as BATCH


@dataclass(frozen=True)
class Costs:
    """Per-photo CPU time on one thread, for the record beside the ceiling."""

    decode_ms: float
    model_ms: float
    photos: int  # how many photos they were measured on


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def measure_costs(paths: list[Path], model_path: Path, repeats: int = 3) -> Costs:
    """CPU milliseconds a photo of load_image and of the model, one thread; medians."""
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
    return Costs(median(decode), median(inference), len(paths))


class Ceiling:
    """The all-cores pass over a corpus' photos, ready to run again (models loaded, warm)."""

    def __init__(self, paths: list[Path], model_path: Path, cores: int | None = None) -> None:
        self.paths = paths
        self.cores = cores or usable_cores()
        first = load_model(model_path, 1)
        self.models: list[Classifier] = [first] + [first.copy() for _ in range(self.cores - 1)]
        self.size = first.metadata.input_size
        self.run()  # warm: first calls allocate, files enter the page cache

    def run(self) -> float:
        """One pass: photos a second with every core decoding and running the model."""

        def work(model: Classifier, share: list[Path]) -> None:
            for start in range(0, len(share), BATCH):
                batch = [load_image(path, self.size) for path in share[start : start + BATCH]]
                model.predict(np.stack(batch))

        threads = [
            threading.Thread(target=work, args=(model, self.paths[index :: self.cores]))
            for index, model in enumerate(self.models)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(self.paths) / (time.perf_counter() - started)


def sample(paths: list[Path], most: int) -> list[Path]:
    """At most ``most`` of the paths, spread evenly over them (mixed folders stay mixed)."""
    if len(paths) <= most:
        return paths
    step = len(paths) / most
    return [paths[int(i * step)] for i in range(most)]
