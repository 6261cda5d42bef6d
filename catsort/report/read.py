"""Reading a results CSV that classify wrote: the rows, with numbers parsed."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from catsort import columns
from catsort.errors import CatsortError, one_line
from catsort.names import is_url


@dataclass(frozen=True)
class CsvRow:
    """One photo's line in a results CSV, with numbers parsed (None where empty)."""

    path: str
    label: str  # a model label, "uncertain", "other"; "" for errors
    confidence: float | None
    probs: dict[str, float]
    pet_score: float | None
    error: str  # "" when ok or skipped
    destination: str
    skipped: str = ""  # why classify deliberately left it unclassified ("" when it did not)
    companions: tuple[str, ...] = ()  # names of the files that went with it (none: older CSVs)
    sidecar: str = ""  # the XMP sidecar holding its keyword after --tag ("" when none)
    cached: bool = False  # the row came from the results cache (False in CSVs without the column)
    frames: int | None = None  # a video's frames looked at; None for a photo (and older CSVs)

    @property
    def ok(self) -> bool:
        """Whether classify gave this photo a label."""
        return not self.error and not self.skipped

    @property
    def is_video(self) -> bool:
        """Whether the row is a video's (its frames were looked at, or it failed to read)."""
        return self.frames is not None


@dataclass(frozen=True)
class ResultsCsv:
    """A parsed results CSV: the model's labels (from the p_<label> columns) and the rows."""

    source: Path | str  # a str for a URL (the Ray engine's output in a bucket)
    labels: tuple[str, ...]
    rows: list[CsvRow]


def read_results(path: Path | str) -> ResultsCsv:
    """Read and validate a results CSV; raise CatsortError when it is unusable.

    The Ray engine's output (a folder of Parquet parts, or one part) is read the same way, in a
    local folder or behind a URL (``s3://bucket/results``, through the registered UrlSource).
    """
    if is_url(path):
        return _read_parquet_url(str(path))
    path = Path(path)
    if is_parquet(path):
        return _read_parquet(path)
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            reader = csv.DictReader(file)
            header = [name.lstrip("\ufeff").strip() for name in reader.fieldnames or []]
            if not header:
                raise CatsortError(f"{path}: empty file, not a catsort results CSV")
            reader.fieldnames = header
            labels = _check_header(path, header)
            rows = [parse_row(raw, labels) for raw in reader]
    except FileNotFoundError:
        raise CatsortError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CatsortError(f"{path}: is a folder, not a results CSV") from None
    except PermissionError:
        raise CatsortError(f"{path}: permission denied") from None
    except (csv.Error, OSError) as exc:
        raise CatsortError(f"{path}: unreadable CSV ({exc})") from None
    if not rows:
        raise CatsortError(f"{path}: no photos in this results CSV (only a header)")
    return ResultsCsv(source=Path(path), labels=labels, rows=rows)


PARQUET_MAGIC = b"PAR1"


def is_parquet(path: Path) -> bool:
    """Tell whether a path is Parquet results: a .parquet file, or a folder of parts."""
    if os.path.isdir(path):
        return any(_is_part(name) for name in os.listdir(path))
    if Path(path).suffix.lower() == ".parquet":
        return True
    try:
        with open(path, "rb") as stream:
            return stream.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC
    except OSError:
        return False


def _is_part(name: str) -> bool:
    # The Ray engine's committed parts; its hidden temporary ones (.tmp-...) are left out.
    return not name.startswith((".", "_")) and name.endswith(".parquet")


def _read_parquet(path: Path) -> ResultsCsv:
    """Read Parquet results as a results CSV is read (pyarrow is imported only here)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CatsortError(
            f'{path}: reading Parquet results needs pyarrow; pip install "catsort[distributed]"'
        ) from None
    files = (
        [Path(path, name) for name in sorted(os.listdir(path)) if _is_part(name)]
        if os.path.isdir(path)
        else [Path(path)]
    )
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file))
        except FileNotFoundError:
            raise CatsortError(f"{file}: file not found") from None
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise CatsortError(f"{file}: unreadable Parquet file ({one_line(exc)})") from None
    return _parquet_results(path, tables)


class UrlSource(Protocol):
    """Reads results behind a URL: the Ray engine's Parquet parts in a bucket (or one part).

    catsort.distributed supplies one (``register_url_source``), with the distributed extra's
    file systems; this module knows only the rows.
    """

    def read_tables(self, url: str) -> list[Any]:
        """The Parquet tables (pyarrow) of the results at ``url``; CatsortError if unusable."""
        ...


_url_source: UrlSource | None = None


def register_url_source(source: UrlSource) -> None:
    """Let ``read_results`` read results behind URLs, through ``source``."""
    global _url_source
    _url_source = source


def _read_parquet_url(url: str) -> ResultsCsv:
    """Read the Ray engine's Parquet parts behind a URL, through the registered source."""
    if _url_source is None:
        raise CatsortError(
            f'{url}: reading results from a URL needs pip install "catsort[distributed]"'
        )
    return _parquet_results(url, _url_source.read_tables(url))


def _parquet_results(path: Path | str, tables: list[Any]) -> ResultsCsv:
    """Parquet tables as a ResultsCsv, checked as a CSV's header and rows are."""
    header = list(tables[0].column_names)
    labels = _check_header(path, header)
    rows = [parse_row(_cells(raw), labels) for table in tables for raw in table.to_pylist()]
    if not rows:
        raise CatsortError(f"{path}: no photos in these Parquet results")
    return ResultsCsv(source=path, labels=labels, rows=rows)


def _cells(raw: dict[str, object]) -> dict[str, str | None]:
    """A Parquet row's values as the CSV's text cells (numbers in full, None as empty)."""
    return {
        name: None if value is None else repr(value) if isinstance(value, float) else str(value)
        for name, value in raw.items()
    }


def _check_header(path: Path | str, header: list[str]) -> tuple[str, ...]:
    missing = [name for name in columns.REQUIRED if name not in header]
    labels = columns.labels_in(header)
    if len(labels) < 2:
        missing.append("p_<label> for each model label")
    if missing:
        raise CatsortError(
            f"{path}: not a catsort results CSV (missing columns: {', '.join(missing)})"
        )
    return labels


def parse_row(raw: dict[str, str | None], labels: tuple[str, ...]) -> CsvRow:
    """Turn one csv.DictReader row into a CsvRow, tolerating empty or odd cells."""

    def cell(name: str) -> str:
        value = raw.get(name)
        return value.strip() if isinstance(value, str) else ""

    label, error = cell("label"), cell("error")
    companions = tuple(n for n in cell("companions").split(columns.COMPANION_SEPARATOR) if n)
    cached = cell(columns.CACHED) == columns.YES
    frames = _count(cell(columns.FRAMES))
    if cell("status") == columns.SKIPPED:
        return CsvRow(
            path=cell("path"),
            label="",
            confidence=None,
            probs={},
            pet_score=None,
            error="",
            destination=cell("destination"),
            skipped=error or "skipped",
            companions=companions,
            sidecar=cell(columns.SIDECAR),
            cached=cached,
            frames=frames,
        )
    if not error and (cell("status") != "ok" or not label):
        error = "no label in the results CSV" if cell("status") == "ok" else "failed"
    probs = {
        name: p for name in labels if (p := _number(cell(columns.probability(name)))) is not None
    }
    return CsvRow(
        path=cell("path"),
        label="" if error else label,
        confidence=None if error else _number(cell("confidence")),
        probs=probs,
        pet_score=_number(cell("pet_score")),
        error=error,
        destination=cell("destination"),
        companions=companions,
        sidecar=cell(columns.SIDECAR),
        cached=cached,
        frames=frames,
    )


def _count(text: str) -> int | None:
    """A whole number of frames, or None (an empty cell, a photo's)."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
