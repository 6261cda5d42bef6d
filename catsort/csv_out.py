"""The results CSV that classify writes and report reads: one row per file, flushed as it goes."""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from catsort import columns
from catsort.errors import FAILED, USAGE, CatsortError, WriteFailed, os_reason
from catsort.images import is_image_name
from catsort.names import shown
from catsort.types import PhotoResult
from catsort.video import is_video_name

ENCODING = "utf-8"
# Non-UTF-8 bytes in file names (as os.fsdecode keeps them) are written back as the same bytes.
ERRORS = "surrogateescape"
STDOUT = "-"


def row(result: PhotoResult, labels: tuple[str, ...]) -> list[str]:
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
        result.status,
        result.error or result.skipped or "",
        "" if result.destination is None else os.fspath(result.destination),
        columns.COMPANION_SEPARATOR.join(c.path.name for c in result.companions),
        "" if result.sidecar is None else os.fspath(result.sidecar),
        columns.YES if result.cached else columns.NO,
        "" if result.frames is None else str(result.frames),
    ]


class ResultsWriter:
    """Writes result rows to an open text stream, flushing after each one.

    A row that cannot be written (a full disk, a reader that stopped) raises WriteFailed, and
    so does every later one: ``failed`` keeps it.
    """

    def __init__(self, stream: TextIO, labels: tuple[str, ...], name: str = STDOUT) -> None:
        self.labels = labels
        self.name = name
        self.failed: WriteFailed | None = None
        self._stream = stream
        self._csv = csv.writer(stream)
        self._write(columns.header(labels))

    def write(self, result: PhotoResult) -> None:
        """Write one row and flush it, so an interrupted run keeps every finished row."""
        self._write(row(result, self.labels))

    def _write(self, values: list[str]) -> None:
        if self.failed is not None:
            raise self.failed
        try:
            self._csv.writerow(values)
            self._stream.flush()
        except OSError as exc:  # a full disk, a pipe whose reader stopped
            self.failed = _write_error(self.name, exc)
            raise self.failed from None


class PlanWriter:
    """Writes a dry run's plan to standard output: ``label<TAB>source<TAB>destination`` lines.

    Each companion file that goes with the photo follows on its own line, indented (an empty
    label): ``<TAB>source<TAB>destination``. File names are escaped as on the terminal (a tab or
    newline in one cannot split a line).
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.failed: WriteFailed | None = None

    def write(self, result: PhotoResult) -> None:
        """Write the line of a photo the run would move or copy; other photos have none.

        With --tag, a photo whose sidecar would change also gets a
        ``tag<TAB>label<TAB>photo<TAB>sidecar`` line.
        """
        if result.prediction is None:
            return
        label = shown(result.prediction.label)
        lines = []
        # A photo already in its place (sorted by an earlier run) has nothing to move.
        if result.destination is not None and result.destination != result.path:
            lines.append("\t".join((label, shown(result.path), shown(result.destination))))
            for companion in result.companions:
                lines.append("\t".join(("", shown(companion.path), shown(companion.destination))))
        if result.sidecar is not None and result.error is None:
            photo = result.path if result.destination is None else result.destination
            lines.append("\t".join(("tag", label, shown(photo), shown(result.sidecar))))
        if not lines:
            return
        if self.failed is not None:
            raise self.failed
        try:
            self._stream.write("".join(line + "\n" for line in lines))
            self._stream.flush()
        except OSError as exc:  # a pipe whose reader stopped
            self.failed = _write_error(STDOUT, exc, "the plan")
            raise self.failed from None


@contextmanager
def open_plan() -> Iterator[PlanWriter]:
    """Standard output for a dry run's plan."""
    with _stdout_text() as stream:
        yield PlanWriter(stream)


@contextmanager
def open_results(target: str | os.PathLike, labels: tuple[str, ...]) -> Iterator[ResultsWriter]:
    """Open the results CSV at ``target`` (``-`` for standard output) for writing."""
    if not os.fspath(target):
        raise CatsortError("--csv needs a file name ('-' for standard output)")
    if os.fspath(target) == STDOUT:
        with _stdout_text() as stream:
            yield ResultsWriter(stream, labels)
        return
    path = Path(target)
    _check_overwrite(path)
    try:
        # Not a with block: the stream outlives this try, closed below with its own errors.
        stream = open(path, "w", encoding=ENCODING, errors=ERRORS, newline="")  # noqa: SIM115
    except OSError as exc:
        # A folder that is not there is a mistyped name; a full or read-only disk, a failure.
        kind = FAILED if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR) else USAGE
        raise CatsortError(f"{path}: cannot write the CSV ({os_reason(exc)})", kind) from None
    try:
        writer = ResultsWriter(stream, labels, os.fspath(path))
        yield writer
    except BaseException:
        try:
            stream.close()
        except OSError:  # its last write failed too: the error on its way out says so
            pass
        raise
    try:
        stream.close()
    except OSError as exc:  # a network file system may only report a full disk here
        if writer.failed is None:  # else already said, and the run stopped on it
            raise _write_error(os.fspath(path), exc) from None


def _check_overwrite(path: Path) -> None:
    """Refuse to write the CSV over a file that holds anything but an earlier results CSV."""
    if is_image_name(path) and os.path.lexists(path):
        raise CatsortError(f"{path}: is a photo; refusing to write the CSV over it")
    if is_video_name(path) and os.path.lexists(path):
        raise CatsortError(f"{path}: is a video; refusing to write the CSV over it")
    try:
        st = os.stat(path)
    except OSError:
        return  # nothing there (or a broken link, which open() then creates the target of)
    # Devices and pipes (/dev/null, a FIFO) are streams to write to; an empty file holds nothing.
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or _is_results_csv(path):
        return
    raise CatsortError(
        f"{path}: already exists and is not a catsort results CSV; refusing to write over it "
        "(choose another name, or delete it first)"
    )


def _is_results_csv(path: Path) -> bool:
    """Tell whether a file starts with the header classify writes."""
    try:
        with open(path, "rb") as stream:
            first = stream.read(len(_HEADER_START) + 3)
    except OSError:
        return False
    return first.removeprefix(b"\xef\xbb\xbf").startswith(_HEADER_START)


_HEADER_START = b"path,label,confidence,"


def _write_error(name: str, exc: OSError, what: str = "the CSV") -> WriteFailed:
    """The one-line error for a CSV (or plan) that stopped taking rows part way through a run:
    the run stops there (catsort.session)."""
    reason = "the program reading it stopped" if exc.errno == errno.EPIPE else os_reason(exc)
    where = "standard output" if name == STDOUT else name
    return WriteFailed(f"{where}: cannot write {what} ({reason})")


@contextmanager
def _stdout_text() -> Iterator[TextIO]:
    """Standard output as a text stream with the CSV's encoding, left open afterwards."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # already a plain text stream (some embedders): use it as it is
        yield sys.stdout
        return
    stream = io.TextIOWrapper(
        buffer, encoding=ENCODING, errors=ERRORS, newline="", write_through=True
    )
    try:
        yield stream
    finally:
        try:
            stream.flush()
        except OSError:  # the reader stopped: already reported by the writer
            _silence_stdout()
        stream.detach()  # leave sys.stdout's buffer open for whoever prints next


def _silence_stdout() -> None:
    """Send what is left for standard output to /dev/null, so exit does not fail on it again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


def _number(value: float) -> str:
    return f"{value:.4f}"
