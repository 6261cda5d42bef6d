"""Classify photos with Ray Data: an actor pool where each actor holds one LiteRT interpreter.

The driver lists the photos (lazily, a chunk at a time), leaves out those an earlier run wrote,
and hands each chunk to Ray Data. Each actor reads a batch of files, decodes them with catsort's
own load_image, runs its model on them and decides their labels exactly as a local run does
(catsort.pipeline.classify_contents), then commits the batch's rows as one Parquet part. Only a
small summary row per photo comes back to the driver, for the progress and the totals.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catsort import columns
from catsort.distributed.sources import Entry, Reader, check_access, list_photos, missing_extra
from catsort.distributed.store import Key, ResultStore, schema
from catsort.errors import FAILED, CatsortError, SettingsError, last_line
from catsort.metadata import ModelMetadata
from catsort.model import Classifier
from catsort.types import Reporter, Row, RunSettings, RunSummary

#: Photos per Parquet part (and per actor call).
PART_ROWS = 1000

#: Photos listed before handing them to Ray: the driver holds a chunk at a time, not the listing.
CHUNK_ROWS = 100_000


@dataclass
class RaySummary(RunSummary):
    """A Ray run's summary; ``already`` counts photos skipped as already in the output."""

    already: int = 0
    already_errors: int = 0  # error rows the output holds from earlier runs
    replaced: int = 0  # older rows of photos that changed since, removed from the output
    has_gate: bool = False
    output: str = ""


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def start_ray(address: str | None = None) -> None:
    """Connect to Ray: a cluster at ``address``, else a local one on this machine's cores.

    A Ray already started in this process (a notebook, the tests) is used as it is.
    """
    # Before Ray is imported: it reads the setting then.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not address:
        # Ray starts its workers at niceness 15; on a machine others use, a local run would
        # then go about 14 times slower than the local engine (docs/distributed.md).
        os.environ.setdefault("RAY_worker_niceness", "0")
    import ray

    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(
                num_cpus=usable_cores(),
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
    except ConnectionError as exc:
        raise SettingsError(
            "{address:{value}}: cannot connect to Ray ({reason})", value=address, reason=exc
        ) from None


def cluster_cpus() -> int:
    """The CPUs the Ray cluster has."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@dataclass
class RayJob:
    """A checked Ray run: the model loaded, the sources reachable, the output's keys read."""

    sources: Sequence[str]
    output: str
    classifier: Classifier
    settings: RunSettings
    done: set[Key]
    done_errors: int
    address: str | None = None
    part_rows: int = PART_ROWS
    chunk_rows: int = CHUNK_ROWS

    def start(self, reporter: Reporter | None = None) -> RaySummary:
        """Run it: list, classify and commit, telling ``reporter`` of each photo's row."""
        return run_job(self, reporter)


def prepare(
    sources: Sequence[str],
    output: str,
    model: Path | None = None,
    settings: RunSettings | None = None,
    *,
    address: str | None = None,
    part_rows: int = PART_ROWS,
    chunk_rows: int = CHUNK_ROWS,
) -> RayJob:
    """Check a Ray run before it starts; raise CatsortError for what cannot work: the
    distributed extra missing, settings, a source that cannot be reached, the output."""
    from catsort import distributed
    from catsort.model import load_model

    absent = distributed.missing()
    if absent is not None:
        raise CatsortError(missing_extra(absent))
    if part_rows < 1:
        raise SettingsError("{part_rows:{value}}: must be at least 1", value=part_rows)
    settings = settings if settings is not None else RunSettings()
    classifier = load_model(model, 1)
    settings.check(classifier)
    for source in sources:  # a wrong credential or a missing bucket: exit 2 before Ray starts
        check_access(source)
    store = ResultStore(output)
    store.prepare()
    done, done_errors = store.done()
    return RayJob(
        sources, output, classifier, settings, done, done_errors, address, part_rows, chunk_rows
    )


def run_ray(
    sources: Sequence[str],
    output: str,
    model: Path | None = None,
    settings: RunSettings | None = None,
    *,
    address: str | None = None,
    part_rows: int = PART_ROWS,
    chunk_rows: int = CHUNK_ROWS,
    reporter: Reporter | None = None,
) -> RaySummary:
    """Classify every photo under ``sources`` into Parquet parts in ``output``; skip done ones."""
    job = prepare(
        sources,
        output,
        model,
        settings,
        address=address,
        part_rows=part_rows,
        chunk_rows=chunk_rows,
    )
    return run_job(job, reporter)


def run_job(job: RayJob, reporter: Reporter | None = None) -> RaySummary:
    """Run a prepared job: list, classify and commit, telling ``reporter`` of each photo (its
    ``row``) and of what the run left as it was; return the summary."""
    reporter = reporter if reporter is not None else Reporter()
    classifier, settings = job.classifier, job.settings
    summary = RaySummary(
        labels=classifier.metadata.labels, output=job.output, has_gate=classifier.has_gate
    )
    started = time.perf_counter()
    start_ray(job.address)
    actors = settings.workers or cluster_cpus()
    model_spec = (classifier.path.read_bytes(), classifier.metadata, classifier.path)
    earlier = 0
    # How many rows the output holds per photo: more than its current key's row means rows of
    # versions since replaced (a photo uploaded again, a truncated upload made whole).
    rows_held = Counter(path for path, _, _ in job.done)
    changed: dict[str, Key] = {}

    def todo() -> Iterator[Entry]:
        nonlocal earlier
        for source in job.sources:
            for entry in list_photos(source, settings.recursive):
                older = rows_held.get(entry.path, 0)
                if entry.key in job.done:
                    earlier += 1  # its row is in the output already
                    older -= 1
                else:
                    yield entry
                if older > 0:
                    changed[entry.path] = entry.key

    for chunk in _chunks(todo(), job.chunk_rows):
        rows = _classify_chunk(chunk, model_spec, settings, job.output, actors, job.part_rows)
        for row in rows:
            _count(summary, row)
            reporter.row(row)
    if changed:  # only now that every photo's new row is committed
        summary.replaced = ResultStore(job.output).retire(changed)
    summary.already = earlier
    summary.already_errors = job.done_errors
    summary.elapsed = time.perf_counter() - started
    if earlier:
        reporter.note(
            f"{earlier} photos already in {job.output} from an earlier run were left as they are"
        )
    if changed:
        reporter.note(
            f"{len(changed)} photos had changed since an earlier run: their rows from then "
            f"({summary.replaced}) were replaced"
        )
    return summary


def _chunks(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    while chunk := list(itertools.islice(entries, size)):
        yield chunk


def _count(summary: RunSummary, row: Row) -> None:
    if row.status == "error":
        summary.errors += 1
        summary.reasons[row.error or "failed"] += 1
    elif row.status == "skipped":
        summary.skipped += 1
    elif row.label is not None:
        summary.counts[row.label] += 1


def _classify_chunk(
    chunk: list[Entry],
    model_spec: tuple[bytes, ModelMetadata, Path],
    settings: RunSettings,
    output: str,
    actors: int,
    part_rows: int,
) -> Iterator[Row]:
    """Run one chunk of the listing through Ray Data; yield a Row per photo as parts commit."""
    import ray
    import ray.data

    # Its "execution finished" lines, and a warning that progress bars are off.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    model_ref = ray.put(model_spec)
    items = [{"path": e.path, "size": e.size, "version": e.version} for e in chunk]
    blocks = max(1, min(len(items) // part_rows + 1, actors * 4))
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        ClassifyActor,
        # The model's bytes go to the object store once, by reference (in a list, so that Ray
        # passes the reference rather than a copy with each actor's arguments).
        fn_constructor_kwargs={"model_ref": [model_ref], "settings": settings, "output": output},
        batch_size=part_rows,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=max(1, min(actors, len(items) // part_rows + 1))),
        num_cpus=1,
    )
    try:
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            data = batch.to_pydict()
            for path, label, status, error in zip(
                data["path"], data["label"], data["status"], data["error"]
            ):
                yield Row(path, label, status, error)
    except ray.exceptions.RayError as exc:
        raise CatsortError(f"the Ray run stopped: {last_line(exc)}", FAILED) from None


class ClassifyActor:
    """A Ray Data actor: one interpreter; classifies a batch and commits it as one part."""

    def __init__(self, model_ref: list[Any], settings: RunSettings, output: str) -> None:
        import ray

        from catsort.images import quiet_pillow_warnings
        from catsort.model import Classifier

        quiet_pillow_warnings()
        content, metadata, path = ray.get(model_ref[0])
        # One thread: Ray runs an actor per core.
        self.model = Classifier(content, metadata, path, threads=1)
        self.settings = settings
        self.store = ResultStore(output)
        self.reader = Reader()
        self.schema = schema(metadata.labels)

    def __call__(self, batch: Any) -> Any:
        """Classify a batch of {path, size, version}; commit its rows; return summary rows."""
        import pyarrow as pa

        from catsort.pipeline import classify_contents

        data = batch.to_pydict()  # a pyarrow Table (batch_format="pyarrow")
        paths: list[str] = data["path"]
        labels = self.model.metadata.labels
        settings = self.settings
        rows: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        step = settings.batch_size
        for start in range(0, len(paths), step):
            names = paths[start : start + step]
            results = classify_contents(
                names,
                self.reader.read(names),
                self.model,
                threshold=settings.threshold,
                gate_threshold=settings.gate_threshold,
                use_gate=settings.use_gate,
            )
            for name, result in zip(names, results):
                rows["path"].append(name)
                rows["label"].append(result.label)
                rows["confidence"].append(result.confidence)
                for label in labels:
                    rows[f"p_{label}"].append(result.probabilities.get(label))
                rows["pet_score"].append(result.pet_score)
                rows["status"].append(result.status)
                rows["error"].append(result.error or result.skipped)
                rows["destination"].append(None)
                # Sorting, tagging and the results cache are local only: nothing to say here.
                rows["companions"].append(None)
                rows[columns.SIDECAR].append(None)
                rows[columns.CACHED].append(columns.NO)
                rows[columns.FRAMES].append(None)  # the engine lists photos, not videos
        rows["size"] = list(data["size"])
        rows["version"] = list(data["version"])
        table = pa.Table.from_pydict(rows, schema=self.schema)
        self.store.commit(table, zip(paths, rows["size"], rows["version"]))
        return table.select(["path", "label", "status", "error"])
