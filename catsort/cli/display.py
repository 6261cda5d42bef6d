"""What classify and watch show on stderr: a progress bar or a line per photo, one line per
problem, the summary table. The displays are the runs' reporters (catsort.api.Reporter)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from catsort.api import MOVE, OTHER, PhotoResult, Reporter, Row, RunSummary, shown


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} images/s", style="progress.data.speed")


class RunDisplay(Reporter):
    """The live view of a classify run; with ``quiet`` only problems are printed."""

    def __init__(self, console: Console, quiet: bool = False, dry_run: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.dry_run = dry_run
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RunDisplay:
        if not self.quiet:
            self._progress = Progress(
                TextColumn("classifying"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("classify", total=None)
        return self

    def __exit__(
        self, kind: type | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def count_in_background(self, paths: Callable[[], Iterable[Path]]) -> None:
        """Count the files to do in a thread, and show the total once known."""
        if self._progress is None:
            return

        def count() -> None:
            total = sum(1 for _ in paths())
            if self._progress is not None and self._task is not None:
                done = self._progress.tasks[0].completed
                self._progress.update(self._task, total=max(total, done))

        threading.Thread(target=count, name="catsort-count", daemon=True).start()

    def result(self, result: PhotoResult) -> None:
        """Show one finished file: a line if it failed or was skipped, and the bar moves on."""
        if result.error is not None:
            self._print(Text.assemble(("error ", "red"), f"{shown(result.path)}: {result.error}"))
        elif result.skipped is not None and not self.quiet:
            self._print(
                Text.assemble(("skipped ", "yellow"), f"{shown(result.path)}: {result.skipped}")
            )
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def row(self, row: Row) -> None:
        """Show one photo of the Ray engine, named by its URL, as result() does."""
        if row.status == "error":
            self._print(Text.assemble(("error ", "red"), f"{shown(row.path)}: {row.error}"))
        elif row.status == "skipped" and not self.quiet:
            self._print(Text.assemble(("skipped ", "yellow"), f"{shown(row.path)}: {row.error}"))
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def note(self, message: str) -> None:
        """Show a message about the run (e.g. what recovery did)."""
        if not self.quiet:
            self._print(Text(message))

    def warning(self, message: str) -> None:
        """Show a problem that does not stop the run (a results cache that cannot be used),
        even with --quiet."""
        self._print(Text.assemble(("warning ", "yellow"), message))

    def _print(self, text: Text) -> None:
        target = self._progress.console if self._progress is not None else self.console
        target.print(text, soft_wrap=True, highlight=False)


class WatchDisplay(Reporter):
    """What catsort watch shows: a line per photo as it is sorted (problems only with ``quiet``),
    and ``ready_line`` once it is listening."""

    def __init__(
        self, console: Console, folder: Path, quiet: bool = False, ready_line: str = ""
    ) -> None:
        self.console = console
        self.folder = folder
        self.quiet = quiet
        self.ready_line = ready_line

    def ready(self) -> None:
        """Say that the watch is listening (and how to stop it)."""
        if self.ready_line:
            self.note(self.ready_line)

    def result(self, result: PhotoResult) -> None:
        """Show one photo taken: where it went, or why it failed or was skipped."""
        path = self._relative(result.path)
        if result.error is not None:
            self._print(Text.assemble(("error ", "red"), f"{shown(path)}: {result.error}"))
        elif self.quiet:
            return
        elif result.skipped is not None:
            self._print(Text.assemble(("skipped ", "yellow"), f"{shown(path)}: {result.skipped}"))
        elif result.label is not None:
            if result.destination is None:
                where = ""
            elif result.earlier:
                where = f" (copied before: {shown(self._relative(result.destination))})"
            else:
                where = f" -> {shown(self._relative(result.destination))}"
            self._print(Text.assemble((f"{result.label} ", "bold"), f"{shown(path)}{where}"))

    def note(self, message: str) -> None:
        """Show a message about the watch (e.g. a stale lock taken over)."""
        if not self.quiet:
            self._print(Text(shown(message)))

    def _relative(self, path: Path) -> Path:
        try:
            return path.relative_to(self.folder)
        except ValueError:
            return path

    def _print(self, text: Text) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)


class Outputs(Reporter):
    """A run's reporter: each result to the display and to the writers (the CSV, a dry run's
    plan); notes and warnings to the display. ``seen`` counts the results; ``summary`` is the
    run's once its session closed."""

    def __init__(self, display: Reporter, *writers: Writer | None) -> None:
        self.display = display
        self.writers = [writer for writer in writers if writer is not None]
        self.seen = 0
        self.summary: RunSummary | None = None  # once the run's session closed

    def result(self, result: PhotoResult) -> None:
        """Write the result's row and show it."""
        self.seen += 1
        for writer in self.writers:
            writer.write(result)
        self.display.result(result)

    def note(self, message: str) -> None:
        """Show a note."""
        self.display.note(message)

    def warning(self, message: str) -> None:
        """Show a warning."""
        self.display.warning(message)

    def ready(self) -> None:
        """Say that a watch is listening."""
        self.display.ready()

    def closed(self, summary: RunSummary) -> None:
        """Keep what the run did, for what a run stopped with Ctrl-C says."""
        self.summary = summary


class Writer(Protocol):
    """A CSV or plan writer: a row for each result."""

    def write(self, result: PhotoResult) -> None:
        """Write the result's row."""
        ...


def summary_table(
    summary: RunSummary,
    *,
    action: str | None = None,
    dry_run: bool = False,
    has_gate: bool = True,
    title: str = "catsort classify",
    speed: bool = True,
) -> Table:
    """The end-of-run table: files per label, uncertain, other, errors, time and speed."""
    table = Table(title=title, title_justify="left")
    table.add_column("result")
    table.add_column("files", justify="right")
    for label, count in summary.rows():
        if label != OTHER or has_gate or count:
            table.add_row(Text(label), str(count))  # a Text: labels are not markup
    if summary.skipped:
        table.add_row("skipped", str(summary.skipped))
    table.add_row("errors", str(summary.errors), style="red" if summary.errors else None)
    if action is not None:
        verb = "moved" if action == MOVE else "copied"
        table.add_row(f"would be {verb}" if dry_run else verb, str(summary.placed))
        if summary.companions:
            would = "would be " if dry_run else ""
            table.add_row(f"companions {would}{verb}", str(summary.companions))
        if summary.in_place:
            table.add_row("already in place", str(summary.in_place))
        if summary.earlier:
            table.add_row(f"{verb} before", str(summary.earlier))
    if summary.kept:  # a link is neither moved nor tagged: say what this run would have done
        table.add_row(
            "links, not moved" if action == MOVE else "links, not tagged", str(summary.kept)
        )
    if summary.tagged:
        table.add_row("would be tagged" if dry_run else "tagged", str(summary.tagged))
    table.add_section()
    table.add_row("total", str(summary.files))
    if summary.videos:
        table.add_row("of them videos", str(summary.videos))
    if summary.cached:
        table.add_row("from the cache", str(summary.cached))
    if summary.decided:  # catsort review: a person's label, not the model's
        table.add_row("labels a person decided", str(summary.decided))
    table.add_row("elapsed", f"{summary.elapsed:.2f} s")
    if speed:  # not for a watch: most of its time is spent waiting
        table.add_row("images/s", f"{summary.images_per_second:.1f}")
    return table


def error_reasons_table(summary: RunSummary) -> Table | None:
    """The run's errors grouped by reason (without the paths), most frequent first."""
    if not summary.reasons:
        return None
    table = Table(title="errors by reason", title_justify="left")
    table.add_column("reason")
    table.add_column("files", justify="right")
    for reason, count in sorted(summary.reasons.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(Text(reason), str(count))
    return table


#: How many kinds of non-photo file the summary names before it says "and N more".
MAX_KINDS = 8


def left_alone_lines(summary: RunSummary) -> list[Text]:
    """What the walk left alone: each skipped folder name once, and non-photos by extension."""
    groups: dict[tuple[str, str], int] = {}
    for path, reason in summary.not_entered.items():
        key = (path.name, reason)
        groups[key] = groups.get(key, 0) + 1
    lines = []
    for (name, reason), count in groups.items():
        more = f", {count} folders" if count > 1 else ""
        lines.append(Text(f"skipped: {shown(name)} ({reason}){more}"))
    if summary.excluded:
        photos = "photo" if summary.excluded == 1 else "photos"
        lines.append(Text(f"excluded: {summary.excluded} {photos} matching --exclude"))
    if summary.duplicate_links:
        count = len(summary.duplicate_links)
        lines.append(Text(f"links to photos found under their own name too, left alone: {count}"))
    videos = summary.video_rows()
    if videos:
        kinds = [f"{count} {shown(ext)}" for ext, count in videos]
        lines.append(Text("videos, left alone: " + ", ".join(kinds)))
    rows = [row for row in summary.not_photo_rows() if row not in videos]
    if rows:
        kinds = [f"{count} {shown(ext)}" for ext, count in rows[:MAX_KINDS]]
        rest = rows[MAX_KINDS:]
        if rest:
            kinds.append(f"{sum(count for _, count in rest)} of {len(rest)} other kinds")
        lines.append(Text("not photos, left alone: " + ", ".join(kinds)))
    return lines
