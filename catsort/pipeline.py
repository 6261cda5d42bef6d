"""Classifying a stream of files: worker threads that each decode a batch and run the model."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from queue import Empty, SimpleQueue

import numpy as np

from catsort.cache import Known, ResultsCache
from catsort.crops import load_crop
from catsort.decision import Prediction, combine_frames, decide
from catsort.decoding import set_decode_threads
from catsort.errors import CatsortError, one_line, without_path
from catsort.images import ImageSkipped, load_image
from catsort.looks import decide_photos
from catsort.model import Classifier
from catsort.regions import Box
from catsort.types import BATCH_SIZE, PERSON, PhotoResult
from catsort.video import FRAMES, is_video_name, load_frames


class _Skip(str):
    """The reason (without the path) an image is deliberately not classified."""


class _Clip(list[np.ndarray]):
    """A video's frames, each as the model sees a photo."""


# A decoded image, a video's frames, or the one-line reason (without the path) it could not be
# decoded.
_Decoded = np.ndarray | _Clip | str


# Each worker holds its own copy of the model's working memory (about 40 MB), so on bigger
# machines the workers share the cores out rather than grow in number with them.
MAX_WORKERS = 4


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

    A video gives one result from a few of its frames (catsort.video): they go through the
    model with the photos of its batch, a batch holding about ``batch_size`` rows for the model
    (a photo is one, a video up to FRAMES), and ``combine_frames`` makes the clip's scores.

    With a ``cache``, a photo it knows (same path, size, mtime and model) is neither decoded nor
    run through the model: its label is decided from the cached scores (``cached=True``); what
    the model says about the others is added to it. A photo a person labelled (``catsort
    review``) has their label, whatever the model says, even with ``refresh``
    (``decided_by``).
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

    batches = _batches(paths, batch_size)
    pending: deque[Future[list[PhotoResult]]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="catsort-worker")

    def top_up() -> None:
        while len(pending) <= workers:
            batch = next(batches, None)
            if batch is None:
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


def _batches(paths: Iterable[Path], rows: int) -> Iterator[list[Path]]:
    """The paths in batches of about ``rows`` rows for the model: a photo is one row, a video
    up to FRAMES (its frames), so that a batch of videos holds about as many pixels as one of
    photos. A batch takes files until it has ``rows`` rows (a video may add FRAMES - 1 more)."""
    batch: list[Path] = []
    taken = 0
    for path in paths:
        batch.append(Path(path))
        taken += FRAMES if is_video_name(path) else 1
        if taken >= rows:
            yield batch
            batch, taken = [], 0
    if batch:
        yield batch


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
    data = [item if isinstance(item, bytes) else None for item in contents]
    return _results(paths, decoded, model, threshold, gate_threshold, use_gate, data=data)


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
    results = _results(paths, decoded, model, threshold, gate_threshold, use_gate, known, cache)
    if cache is None:
        return results
    decided = cache.decided([stamp for stamp, _ in known])
    return [with_label(result, label) for result, label in zip(results, decided)]


def with_label(result: PhotoResult, label: str | None) -> PhotoResult:
    """A result with the label a person gave it (None: the model's stays)."""
    if label is None or result.prediction is None:
        return result
    return replace(result, prediction=replace(result.prediction, label=label), decided_by=PERSON)


def _results(
    paths: list[Path],
    decoded: Sequence[_Decoded | Known],
    model: Classifier,
    threshold: float | None,
    gate_threshold: float | None,
    use_gate: bool,
    known: Sequence[tuple] | None = None,
    cache: ResultsCache | None = None,
    data: Sequence[bytes | None] | None = None,
) -> list[PhotoResult]:
    """Run the model once on the images that decoded; one result per path, in order.

    ``known``: each path's cache stamp and what the cache knew of it; the new scores of those
    with a stamp go into ``cache``. Photos the first pass leaves to a second look
    (``catsort.looks``) are read again from their path, or from ``data`` (their bytes).
    """
    if known is None:
        known = [(None, None)] * len(paths)
    images = [
        frame
        for item in decoded
        for frame in (item if isinstance(item, _Clip) else [item])
        if isinstance(frame, np.ndarray)
    ]
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

    results: list[PhotoResult | None] = []
    scored: list[tuple[int, Known]] = []  # (place in results, what the model said)
    learned: list[tuple] = []  # (stamp, Known) for the cache
    row = 0
    for path, (stamp, _), item in zip(paths, known, decoded):
        none_read = 0 if is_video_name(path) else None  # a video's frames looked at: none
        if isinstance(item, Known):
            if item.skipped is not None:
                skipped = PhotoResult(path, skipped=item.skipped, cached=True, frames=item.frames)
                results.append(skipped)
            elif item.frames is not None:  # a video's frames, combined: no second look
                logits = np.asarray(item.logits, dtype=np.float64)
                prediction = decided(logits, item.pet_score)
                results.append(PhotoResult(path, prediction, cached=True, frames=item.frames))
            else:
                scored.append((len(results), item))
                results.append(None)
            continue
        if isinstance(item, _Skip):
            results.append(PhotoResult(path, skipped=str(item), frames=none_read))
            if stamp is not None:
                learned.append((stamp, Known(skipped=str(item), frames=none_read)))
            continue
        if isinstance(item, str):
            # Never cached: it may be fixed.
            results.append(PhotoResult(path, error=item, frames=none_read))
            continue
        assert outputs is not None  # there was at least this image
        if isinstance(item, _Clip):  # a video: its frames combined, and no second look
            count = len(item)
            logits = outputs.logits[row : row + count]
            pets = None if outputs.pet_score is None else outputs.pet_score[row : row + count]
            row += count
            scores, pet = combine_frames(logits, pets)
            results.append(PhotoResult(path, decided(scores, pet), frames=count))
            if stamp is not None:
                values = tuple(float(value) for value in scores)
                learned.append((stamp, Known(values, pet, frames=count)))
            continue
        pet = None if outputs.pet_score is None else float(outputs.pet_score[row])
        values = tuple(float(value) for value in outputs.logits[row])
        regions = (
            () if outputs.region_score is None else tuple(map(float, outputs.region_score[row]))
        )
        scored.append((len(results), Known(values, pet, region_scores=regions)))
        results.append(None)
        row += 1

    def read_part(index: int, box: Box) -> np.ndarray | None:
        place = scored[index][0]
        source = None if data is None else data[place]
        return load_crop(paths[place], box, model.metadata.input_size, source)

    looked = decide_photos(
        [k for _, k in scored], model, read_part, threshold, gate_threshold, use_gate
    )
    for (place, before), (prediction, now) in zip(scored, looked):
        cached = isinstance(decoded[place], Known)
        results[place] = PhotoResult(paths[place], prediction, cached=cached)
        stamp = known[place][0]
        if stamp is not None and (not cached or now != before):  # new, or a new second look
            learned.append((stamp, now))
    if cache is not None:
        cache.put(learned)
    return [result for result in results if result is not None]


def _decode(path: str | Path, size: tuple[int, int], data: bytes | None = None) -> _Decoded:
    """Load one image (or a video's frames) for the model, or return why it cannot be loaded."""
    try:
        if data is None and is_video_name(path):
            return _Clip(load_frames(path, size))
        return load_image(path, size, data)
    except ImageSkipped as exc:
        return _Skip(one_line(without_path(str(exc), path)))
    except CatsortError as exc:
        return one_line(without_path(str(exc), path))
    except Exception as exc:
        return one_line(f"unexpected error while reading ({type(exc).__name__}: {exc})")
