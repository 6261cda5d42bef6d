"""The results CSV that classify writes and report reads: one row per file, flushed as it goes."""

from __future__ import annotations

import csv
import io
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from catsort.errors import CatsortError
from catsort.images import is_image_name
from catsort.pipeline import Result

ENCODING = "utf-8"
# Non-UTF-8 bytes in file names (as os.fsdecode keeps them) are written back as the same bytes.
ERRORS = "surrogateescape"
STDOUT = "-"


def columns(labels: tuple[str, ...]) -> list[str]:
    """The CSV header for a model with these labels."""
    return ["path", "label", "confidence", *(f"p_{label}" for label in labels),
            "pet_score", "status", "error", "destination"]


def row(result: Result, labels: tuple[str, ...]) -> list[str]:
    """One CSV row for a result, in the order of ``columns``."""
    prediction = result.prediction
    if prediction is None:
        scores = ["", "", *("" for _ in labels), ""]
    else:
        scores = [
            prediction.label,
            _number(prediction.confidence),
            *(_number(prediction.probabilities[label]) for label in labels),
            "" if prediction.pet_score is None else _number(prediction.pet_score),
        ]
    return [
        os.fspath(result.path),
        *scores,
        "ok" if result.error is None else "error",
        result.error or "",
        "" if result.destination is None else os.fspath(result.destination),
    ]


class ResultsWriter:
    """Writes result rows to an open text stream, flushing after each one."""

    def __init__(self, stream: TextIO, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self._stream = stream
        self._csv = csv.writer(stream)
        self._csv.writerow(columns(labels))
        stream.flush()

    def write(self, result: Result) -> None:
        """Write one row and flush it, so an interrupted run keeps every finished row."""
        self._csv.writerow(row(result, self.labels))
        self._stream.flush()


@contextmanager
def open_results(target: str | os.PathLike, labels: tuple[str, ...]) -> Iterator[ResultsWriter]:
    """Open the results CSV at ``target`` (``-`` for standard output) for writing."""
    if os.fspath(target) == STDOUT:
        with _stdout_text() as stream:
            yield ResultsWriter(stream, labels)
        return
    path = Path(target)
    if is_image_name(path) and os.path.lexists(path):
        raise CatsortError(f"{path}: is a photo; refusing to write the CSV over it")
    try:
        stream = open(path, "w", encoding=ENCODING, errors=ERRORS, newline="")
    except OSError as exc:
        raise CatsortError(f"{path}: cannot write the CSV ({exc.strerror or exc})") from None
    with stream:
        yield ResultsWriter(stream, labels)


@contextmanager
def _stdout_text() -> Iterator[TextIO]:
    """Standard output as a text stream with the CSV's encoding, left open afterwards."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # already a plain text stream (some embedders): use it as it is
        yield sys.stdout
        return
    stream = io.TextIOWrapper(buffer, encoding=ENCODING, errors=ERRORS, newline="",
                              write_through=True)
    try:
        yield stream
    finally:
        stream.flush()
        stream.detach()  # leave sys.stdout's buffer open for whoever prints next


def _number(value: float) -> str:
    return f"{value:.4f}"
