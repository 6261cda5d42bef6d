"""Reading a results CSV written by classify and summarising it: counts, confidence, errors."""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from catsort.metadata import OTHER, UNCERTAIN
from catsort.report.read import CsvRow, ResultsCsv
from catsort.report.truth import Evaluation, evaluate

ERROR_KIND = "error"
SKIPPED_KIND = "skipped"
HISTOGRAM_BINS = 10
ERROR_EXAMPLES = 3


@dataclass
class LabelCount:
    """How many photos got one label; kind is model, uncertain, other, unknown, skipped or
    error."""

    label: str
    kind: str
    count: int
    percent: float


@dataclass
class Histogram:
    """Confidence counts of one label in equal bins from ``low`` (1/K) to ``high`` (1.0)."""

    label: str
    low: float
    high: float
    counts: list[int]


@dataclass
class LowConfidence:
    """A photo among the least confident ones."""

    path: str
    label: str
    confidence: float


@dataclass
class ErrorGroup:
    """Rows that failed for the same reason, with a few example paths."""

    reason: str
    count: int
    examples: list[str]


@dataclass
class ReportSummary:
    """Everything the terminal, JSON and HTML reports show."""

    source: str
    total: int
    labels: list[str]
    counts: list[LabelCount]
    histograms: list[Histogram]
    lowest: list[LowConfidence]
    errors: list[ErrorGroup]
    missing_images: int
    evaluation: Evaluation | None
    tagged: int = 0  # photos whose keyword classify --tag wrote into a sidecar
    videos: int = 0  # of the rows, videos (classified from a few frames, or failed)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return asdict(self)


def summarize(results: ResultsCsv, lowest: int = 10, truth: bool = False) -> ReportSummary:
    """Compute the summary of a results CSV; ``truth`` adds the folder-based evaluation."""
    rows, labels = results.rows, list(results.labels)
    return ReportSummary(
        source=str(results.source),
        total=len(rows),
        labels=labels,
        counts=count_labels(rows, labels),
        histograms=confidence_histograms(rows, labels),
        lowest=least_confident(rows, lowest),
        errors=group_errors(rows),
        missing_images=sum(  # error rows are not photos gone: most were never readable
            1
            for row in rows
            if not row.error
            and not is_remote(row.path)
            and locate_image(row, results.source) is None
        ),
        evaluation=evaluate(rows, labels) if truth else None,
        tagged=sum(1 for row in rows if row.sidecar and not row.error),
        videos=sum(1 for row in rows if row.is_video),
    )


def display_order(rows: list[CsvRow], labels: list[str]) -> list[str]:
    """Return the labels in report order: model labels, uncertain, other, then any unknown."""
    seen = {row.label for row in rows if row.ok}
    known = [*labels, UNCERTAIN, OTHER]
    return known + sorted(seen - set(known))


def label_kind(label: str, labels: list[str]) -> str:
    """Tell what a label is: model, uncertain, other or unknown (not from this model)."""
    if label in labels:
        return "model"
    return label if label in (UNCERTAIN, OTHER) else "unknown"


def count_labels(rows: list[CsvRow], labels: list[str]) -> list[LabelCount]:
    """Count photos per label, uncertain, other, skipped and errors, as shares of all rows."""
    counts = Counter(row.label if row.ok else None for row in rows if not row.skipped)
    skipped = sum(1 for row in rows if row.skipped)
    total = len(rows) or 1

    def item(label: str, kind: str, count: int) -> LabelCount:
        return LabelCount(label, kind, count, round(100 * count / total, 2))

    result = [
        item(label, label_kind(label, labels), counts[label])
        for label in display_order(rows, labels)
    ]
    if skipped:
        result.append(item("skipped", SKIPPED_KIND, skipped))
    result.append(item("errors", ERROR_KIND, counts[None]))
    return result


def confidence_histograms(
    rows: list[CsvRow], labels: list[str], bins: int = HISTOGRAM_BINS
) -> list[Histogram]:
    """Bin each label's confidences from 1/K (the lowest a max probability can be) to 1."""
    low, high = 1 / len(labels), 1.0
    histograms = []
    for label in display_order(rows, labels):
        counts = [0] * bins
        for row in rows:
            if row.ok and row.label == label and row.confidence is not None:
                # Rounded first so that 0.7 lands in [0.70, 0.75), not below it by float error.
                index = math.floor(round((row.confidence - low) / (high - low) * bins, 6))
                counts[min(max(index, 0), bins - 1)] += 1
        histograms.append(Histogram(label, round(low, 4), high, counts))
    return histograms


def least_confident(rows: list[CsvRow], n: int) -> list[LowConfidence]:
    """Return the n photos the model was least sure of.

    Photos labelled other are left out: the pet gate decided those, not the confidence.
    """
    candidates = [
        row for row in rows if row.ok and row.label != OTHER and row.confidence is not None
    ]
    candidates.sort(key=lambda row: (row.confidence or 0.0, row.path))
    return [LowConfidence(row.path, row.label, row.confidence or 0.0) for row in candidates[:n]]


def error_reason(row: CsvRow) -> str:
    """Return the error message without its leading "<path>: ", so equal reasons group."""
    for prefix in (row.path, os.path.basename(row.path)):
        if prefix and row.error.startswith(prefix + ": "):
            return row.error[len(prefix) + 2 :]
    return row.error


def group_errors(rows: list[CsvRow], examples: int = ERROR_EXAMPLES) -> list[ErrorGroup]:
    """Group failed rows by reason, most frequent first, with a few example paths each."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        if row.error:
            groups.setdefault(error_reason(row), []).append(row.path)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [ErrorGroup(reason, len(paths), paths[:examples]) for reason, paths in ordered]


FILE_URL = "file://"


def is_remote(path: str) -> bool:
    """Tell whether a row's path is on object storage (``s3://...``), not checked on disk."""
    return "://" in path and not path.startswith(FILE_URL)


def locate_image(row: CsvRow, csv_path: Path | str) -> Path | None:
    """Find where a photo is now: its destination if it exists there, else its original path.

    Relative paths are tried from the current folder, then from the CSV's folder; a
    ``file://`` URL (the Ray engine's) is its local path. Returns None when the photo is in
    neither place (moved or deleted since) or is on object storage.
    """
    for name in (row.destination, row.path):
        if not name or is_remote(name):
            continue
        name = name.removeprefix(FILE_URL)
        candidates = [name]
        if not os.path.isabs(name):
            candidates.append(os.path.join(os.path.dirname(csv_path), name))
        for candidate in candidates:
            if os.path.isfile(candidate):  # plain strings: 20,000 rows stay fast
                return Path(candidate)
    return None
