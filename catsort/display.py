"""What classify shows on stderr: a progress bar, one line per problem, the summary table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

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

from catsort.metadata import OTHER
from catsort.names import shown
from catsort.pipeline import PhotoResult
from catsort.run import RunSummary
from catsort.sorting.place import MOVE


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} images/s", style="progress.data.speed")


class RunDisplay:
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

    def outcome(self, name: str, error: str | None, skipped: str | None) -> None:
        """Show one finished file named by a URL (the Ray engine's rows), as result() does."""
        if error is not None:
            self._print(Text.assemble(("error ", "red"), f"{shown(name)}: {error}"))
        elif skipped is not None and not self.quiet:
            self._print(Text.assemble(("skipped ", "yellow"), f"{shown(name)}: {skipped}"))
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def note(self, message: str) -> None:
        """Show a message about the run (e.g. what recovery did)."""
        if not self.quiet:
            self._print(Text(message))

    def _print(self, text: Text) -> None:
        target = self._progress.console if self._progress is not None else self.console
        target.print(text, soft_wrap=True, highlight=False)


def summary_table(summary: RunSummary, action: str | None, dry_run: bool, has_gate: bool) -> Table:
    """The end-of-run table: files per label, uncertain, other, errors, time and speed."""
    table = Table(title="catsort classify", title_justify="left")
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
        if summary.earlier:
            table.add_row(f"{verb} before", str(summary.earlier))
    table.add_section()
    table.add_row("total", str(summary.files))
    table.add_row("elapsed", f"{summary.elapsed:.2f} s")
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
