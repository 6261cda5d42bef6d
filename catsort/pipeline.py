"""Classifying a stream of files: parallel decoding overlapped with batched inference."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np

from catsort.errors import CatsortError
from catsort.images import load_image
from catsort.model import Classifier, Prediction, decide


@dataclass(frozen=True)
class Result:
    """The outcome for one input file: a prediction, or the one-line reason it failed.

    ``destination`` is where classify moved or copied the file (or would, in a dry run).
    """

    path: Path
    prediction: Prediction | None = None
    error: str | None = None
    destination: Path | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the file was classified."""
        return self.error is None


# A decoded image, or the one-line reason (without the path) it could not be decoded.
_Decoded = Union[np.ndarray, str]


def default_decode_workers() -> int:
    """Decoding threads: one per core (Pillow releases the GIL while it decodes)."""
    return os.cpu_count() or 1


def classify_paths(
    paths: Iterable[Path],
    classifier: Classifier,
    *,
    batch_size: int = 32,
    decode_workers: int | None = None,
    threshold: float | None = None,
    gate_threshold: float | None = None,
    use_gate: bool = True,
) -> Iterator[Result]:
    """Yield one Result per path, in input order; files that fail to decode give error Results.

    Decoding runs in a thread pool while the calling thread runs the model on the previous
    batch; at most a few batches of files are in flight, so memory does not grow with the
    number of paths (which are read lazily).
    """
    if batch_size < 1:
        raise CatsortError(f"batch size must be at least 1, got {batch_size}")
    workers = decode_workers or default_decode_workers()
    size = classifier.metadata.input_size
    window = 2 * batch_size + workers  # enough to keep decoders busy through one inference

    def finish(items: list[tuple[Path, _Decoded]]) -> Iterator[Result]:
        images = [item for _, item in items if not isinstance(item, str)]
        outputs = classifier.predict(np.stack(images)) if images else None
        row = 0
        for path, item in items:
            if isinstance(item, str):
                yield Result(path, error=item)
                continue
            assert outputs is not None  # there was at least this image
            pet = None if outputs.pet_score is None else outputs.pet_score[row]
            prediction = decide(
                outputs.logits[row], pet, classifier.metadata,
                threshold=threshold, gate_threshold=gate_threshold, use_gate=use_gate,
            )
            row += 1
            yield Result(path, prediction)

    source = iter(paths)
    pending: deque[tuple[Path, Future[_Decoded]]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="catsort-decode")

    def top_up() -> None:
        while len(pending) < window:
            path = next(source, None)
            if path is None:
                return
            pending.append((path, pool.submit(_decode, Path(path), size)))

    try:
        top_up()
        batch: list[tuple[Path, _Decoded]] = []
        images = 0
        while pending:
            path, future = pending.popleft()
            item = future.result()
            top_up()
            if isinstance(item, str) and not images:
                yield Result(path, error=item)  # nothing to wait for: report it now
                continue
            batch.append((path, item))
            images += not isinstance(item, str)
            # Error rows also end a batch, so a long run of bad files is not held back.
            if images == batch_size or len(batch) >= 2 * batch_size:
                yield from finish(batch)
                batch, images = [], 0
        yield from finish(batch)
    finally:
        # Abandoned part way (Ctrl-C, a consumer that stops): drop the queued work.
        pool.shutdown(wait=True, cancel_futures=True)


def _decode(path: Path, size: tuple[int, int]) -> _Decoded:
    """Load one image for the model, or return why it cannot be loaded."""
    try:
        return load_image(path, size)
    except CatsortError as exc:
        return _reason(path, str(exc))
    except Exception as exc:  # noqa: BLE001 - a decoder bug on one file must not end the run
        return _reason(path, f"unexpected error while reading ({type(exc).__name__}: {exc})")


def _reason(path: Path, message: str) -> str:
    """The message without its leading "<path>: ", on one line."""
    prefix = f"{path}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return " ".join(message.split())
