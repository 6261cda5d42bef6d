"""Classifying a stream of files: worker threads that each decode a batch and run the model."""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue

import numpy as np

from catsort.cache import Known, ResultsCache
from catsort.decision import Prediction, decide
from catsort.decoding import set_decode_threads
from catsort.errors import CatsortError
from catsort.images import ImageSkipped, load_image
from catsort.model import Classifier


@dataclass(frozen=True)
class Companion:
    """A file that went with its photo (a sidecar, a RAW, a Live Photo video): from, to."""

    path: Path
    destination: Path


@dataclass(frozen=True)
class PhotoResult:
    """The outcome for one input file: a prediction, or the one-line reason it failed.

    ``skipped`` is the reason catsort deliberately left it unclassified (too small to tell):
    neither a label nor a failure.

    ``destination`` is where classify moved or copied the file (or would, in a dry run);
    ``earlier`` says an earlier run had already put it there, so this run did nothing.
    ``companions`` are the files that went with it (catsort.sorting.companions).
    ``sidecar`` is the XMP sidecar that holds its keyword after ``--tag`` (or would).
    ``kept`` is why a photo that would have been moved stays where it is (it is a link, or
    lies outside the folders given).
    ``cached`` says the result came from the results cache: the photo was not read again.
    """

    path: Path
    prediction: Prediction | None = None
    error: str | None = None
    destination: Path | None = None
    earlier: bool = False
    skipped: str | None = None
    companions: tuple[Companion, ...] = ()
    sidecar: Path | None = None
    kept: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """Tell whether the file was classified."""
        return self.error is None and self.skipped is None

    @property
    def status(self) -> str:
        """``ok`` for a classified photo, ``error`` for one that could not be read, ``skipped``
        for one catsort deliberately left unclassified (too small to tell)."""
        if self.error is not None:
            return "error"
        return "ok" if self.skipped is None else "skipped"

    @property
    def label(self) -> str | None:
        """The label given (a model label, ``uncertain`` or ``other``); None if not classified."""
        return None if self.prediction is None else self.prediction.label

    @property
    def confidence(self) -> float | None:
        """The highest label probability; None after an error or a skip."""
        return None if self.prediction is None else self.prediction.confidence

    @property
    def probabilities(self) -> dict[str, float]:
        """Each model label's probability; empty after an error or a skip."""
        return {} if self.prediction is None else self.prediction.probabilities

    @property
    def pet_score(self) -> float | None:
        """How much the photo looks like a pet (the gate's score); None without a gate."""
        return None if self.prediction is None else self.prediction.pet_score


class _Skip(str):
    """The reason (without the path) an image is deliberately not classified."""


# A decoded image, or the one-line reason (without the path) it could not be decoded.
_Decoded = np.ndarray | str


# Each worker holds its own copy of the model's working memory (about 40 MB), so on bigger
# machines the workers share the cores out rather than grow in number with them.
MAX_WORKERS = 4

#: Photos per model call. On this project's 2-core Xeon, whole runs with batches of 4 took 7 %
#: less CPU time than with 8 on the validation photos (two workers' activations of the float
#: stem fit its caches better) and 2 % less on 12 MP photos, with 60 MB less memory; 2 was no
#: cheaper than 4 (docs/performance.md, "Batch size").
BATCH_SIZE = 4


def split_threads(total: int | None = None) -> tuple[int, int]:
    """Split ``total`` threads (default: the usable cores) into workers x model threads each."""
    if total is None:
        try:
            total = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            total = os.cpu_count() or 1
    workers = max(1, min(total, MAX_WORKERS))
    return workers, max(1, total // workers)


def classify_paths(
    paths: Iterable[Path],
    classifier: Classifier,
    *,
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
    threshold: float | None = None,
    gate_threshold: float | None = None,
    use_gate: bool = True,
    cache: ResultsCache | None = None,
) -> Iterator[PhotoResult]:
    """Yield one PhotoResult per path, in input order; files that fail to decode give error results.

    Each worker thread takes the next batch of paths, decodes it and runs its own copy of the
    model on it. Load the classifier with the model threads ``split_threads()`` gives (one on
    machines of up to four cores): a single-threaded model per core spends less CPU than one
    model spreading every batch over all cores (docs/performance.md).
    At most one batch more than there are workers is in flight, so memory does not grow with
    the number of paths (which are read lazily).

    With a ``cache``, a photo it knows (same path, size, mtime and model) is neither decoded nor
    run through the model: its label is decided from the cached scores (``cached=True``); what
    the model says about the others is added to it.
    """
    if batch_size < 1:
        raise CatsortError(f"batch size must be at least 1, got {batch_size}")
    workers = workers or split_threads()[0]
    # HEIF and AVIF decoders get a worker's share of the cores, as its model does.
    set_decode_threads(classifier.threads or 1)
    spare: SimpleQueue[Classifier] = SimpleQueue()
    spare.put(classifier)

    def run(batch: list[Path]) -> list[PhotoResult]:
        try:
            model = spare.get_nowait()
        except Empty:  # every copy so far is busy: this worker needs its own
            model = classifier.copy()
        try:
            return _classify_batch(batch, model, threshold, gate_threshold, use_gate, cache)
        finally:
            spare.put(model)

    source = iter(paths)
    pending: deque[Future[list[PhotoResult]]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="catsort-worker")

    def top_up() -> None:
        while len(pending) <= workers:
            batch = [Path(path) for path in itertools.islice(source, batch_size)]
            if not batch:
                return
            pending.append(pool.submit(run, batch))

    try:
        top_up()
        while pending:
            results = pending.popleft().result()
            top_up()
            yield from results
    finally:
        # Abandoned part way (Ctrl-C, a consumer that stops): drop the queued work.
        pool.shutdown(wait=True, cancel_futures=True)


def classify_contents(
    names: Sequence[str],
    contents: Sequence[bytes | str],
    model: Classifier,
    *,
    threshold: float | None = None,
    gate_threshold: float | None = None,
    use_gate: bool = True,
) -> list[PhotoResult]:
    """Classify files already read into memory (from object storage) as classify_paths does.

    ``contents`` holds each file's bytes, or the one-line reason it could not be read. The
    results' paths are ``Path(name)``; keep the names (URLs) for showing them.
    """
    size = model.metadata.input_size
    decoded = [
        item if isinstance(item, str) else _decode(name, size, item)
        for name, item in zip(names, contents)
    ]
    paths = [Path(name) for name in names]
    return _results(paths, decoded, model, threshold, gate_threshold, use_gate)


def _classify_batch(
    paths: list[Path],
    model: Classifier,
    threshold: float | None,
    gate_threshold: float | None,
    use_gate: bool,
    cache: ResultsCache | None = None,
) -> list[PhotoResult]:
    """Decode a batch of files and run the model once on those that decoded.

    Photos the cache knows are neither decoded nor run; the others' scores go into it.
    """
    size = model.metadata.input_size
    # Stamped before decoding: a file that changes while it is read is not cached as it is now.
    known = cache.lookup(paths) if cache is not None else [(None, None)] * len(paths)
    decoded: list[_Decoded | Known] = [
        hit if hit is not None else _decode(path, size) for path, (_, hit) in zip(paths, known)
    ]
    return _results(paths, decoded, model, threshold, gate_threshold, use_gate, known, cache)


def _results(
    paths: list[Path],
    decoded: Sequence[_Decoded | Known],
    model: Classifier,
    threshold: float | None,
    gate_threshold: float | None,
    use_gate: bool,
    known: Sequence[tuple] | None = None,
    cache: ResultsCache | None = None,
) -> list[PhotoResult]:
    """Run the model once on the images that decoded; one result per path, in order.

    ``known``: each path's cache stamp and what the cache knew of it; the new scores of those
    with a stamp go into ``cache``.
    """
    if known is None:
        known = [(None, None)] * len(paths)
    images = [item for item in decoded if isinstance(item, np.ndarray)]
    outputs = model.predict(np.stack(images)) if images else None

    def decided(logits: np.ndarray, pet: float | None) -> Prediction:
        return decide(
            logits,
            pet,
            model.metadata,
            threshold=threshold,
            gate_threshold=gate_threshold,
            use_gate=use_gate,
        )

    results = []
    learned: list[tuple] = []  # (stamp, Known) for the cache
    row = 0
    for path, (stamp, _), item in zip(paths, known, decoded):
        if isinstance(item, Known):
            if item.skipped is not None:
                results.append(PhotoResult(path, skipped=item.skipped, cached=True))
            else:
                logits = np.asarray(item.logits, dtype=np.float64)
                results.append(PhotoResult(path, decided(logits, item.pet_score), cached=True))
            continue
        if isinstance(item, _Skip):
            results.append(PhotoResult(path, skipped=str(item)))
            if stamp is not None:
                learned.append((stamp, Known(skipped=str(item))))
            continue
        if isinstance(item, str):
            results.append(PhotoResult(path, error=item))  # never cached: it may be fixed
            continue
        assert outputs is not None  # there was at least this image
        pet = None if outputs.pet_score is None else float(outputs.pet_score[row])
        results.append(PhotoResult(path, decided(outputs.logits[row], pet)))
        if stamp is not None:
            values = tuple(float(value) for value in outputs.logits[row])
            learned.append((stamp, Known(values, pet)))
        row += 1
    if cache is not None:
        cache.put(learned)
    return results


def _decode(path: str | Path, size: tuple[int, int], data: bytes | None = None) -> _Decoded:
    """Load one image for the model, or return why it cannot be loaded."""
    try:
        return load_image(path, size, data)
    except ImageSkipped as exc:
        return _Skip(_reason(path, str(exc)))
    except CatsortError as exc:
        return _reason(path, str(exc))
    except Exception as exc:
        return _reason(path, f"unexpected error while reading ({type(exc).__name__}: {exc})")


def _reason(path: str | Path, message: str) -> str:
    """The message without its leading "<path>: ", on one line."""
    prefix = f"{path}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return " ".join(message.split())
