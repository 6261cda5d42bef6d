"""catsort watch: sort photos as they arrive in a folder, until Ctrl-C."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catsort.cli.common import (
    Command,
    CopyOption,
    CsvOption,
    ExcludeOption,
    GateOption,
    GateThresholdOption,
    ModelOption,
    MoveOption,
    OtherDestOption,
    SidecarOption,
    TagOption,
    TagPrefixOption,
    ThresholdOption,
    VideosOption,
    action_of,
    app,
    err_console,
    fail,
    interrupted,
    left_behind,
    no_output,
    quoted,
    say,
    stopped,
    tag_settings,
)

if TYPE_CHECKING:
    from catsort.api import RunSummary


@app.command(cls=Command)
def watch(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER",
            show_default=False,
            help="The folder to watch (a phone sync or camera import folder).",
        ),
    ],
    move: MoveOption = False,
    copy: CopyOption = False,
    dest: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Where the label folders go (default: FOLDER)."),
    ] = None,
    other_dest: OtherDestOption = None,
    csv_path: CsvOption = None,
    settle: Annotated[
        float,
        typer.Option(
            min=0.0,
            metavar="SECONDS",
            help="Seconds a photo's size and modification time must stay the same before it "
            "is taken (and it must decode).",
        ),
    ] = 2.0,
    poll: Annotated[
        bool,
        typer.Option(
            "--poll", help="Look for new files every --poll-interval (for network shares)."
        ),
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, metavar="SECONDS", help="Seconds between looks with --poll.")
    ] = 1.0,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    gate: GateOption = True,
    gate_threshold: GateThresholdOption = None,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="Watch subfolders too.")
    ] = True,
    exclude: ExcludeOption = None,
    videos: VideosOption = True,
    tag: TagOption = False,
    tag_prefix: TagPrefixOption = None,
    sidecar: SidecarOption = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Threads to use (default: one per core).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No line per photo or summary; only problems.")
    ] = False,
) -> None:
    """Sort new photos as they arrive in FOLDER, until Ctrl-C."""
    from catsort import api
    from catsort.cli.display import Outputs, WatchDisplay

    api.quiet_pillow_warnings()
    planned = None
    with _StopOnSignals() as stop:
        try:
            action = action_of(move, copy)
            tagging = tag_settings(tag, tag_prefix, sidecar)
            settings = api.RunSettings(
                recursive=recursive,
                threshold=threshold,
                use_gate=gate,
                gate_threshold=gate_threshold,
                workers=api.split_threads(threads)[0],
                exclude=tuple(exclude or ()),
                videos=videos,
            )
            classifier = api.load_model(model, threads=threads)
            planned = api.plan_watch(
                folder,
                classifier,
                action=action,
                dest=dest,
                other_dest=other_dest,
                tag=tagging,
                settings=settings,
                watching=api.WatchSettings(settle=settle, poll=poll, poll_interval=poll_interval),
            )
            stop.farewell = " ".join(["Stopped at once.", *left_behind(planned.plan)])
            display = WatchDisplay(
                err_console,
                folder,
                quiet,
                ready_line=f"Watching {folder} (a photo is taken once unchanged for {settle:g} s"
                f"{', polling' if poll else ''}); Ctrl-C to stop.",
            )
            labels = classifier.metadata.labels
            csv = api.open_results(csv_path, labels) if csv_path is not None else no_output()
            with csv as writer:
                summary = planned.start(stop, Outputs(display, writer))
        except api.CatsortError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:  # before the handlers were in place
            raise interrupted(planned.plan if planned else None) from None
    if not quiet:
        show_summary(summary, planned.plan.action, classifier.has_gate)
    if summary.stopped:
        stopped(summary, planned.plan)
    # Ctrl-C exits 130 as shells expect; SIGTERM (a service manager stopping it) is a normal end.
    raise typer.Exit(130 if stop.signal == signal.SIGINT else summary.exit_code)


def show_summary(summary: RunSummary, action: str | None, has_gate: bool) -> None:
    """The end of a watch: the summary table, errors by reason, and how to undo it."""
    from catsort.cli.display import error_reasons_table, summary_table

    err_console.print(
        summary_table(summary, action=action, has_gate=has_gate, title="catsort watch", speed=False)
    )
    reasons = error_reasons_table(summary)
    if reasons is not None:
        err_console.print(reasons)
    if summary.journal is not None:
        say(f"Journal: {summary.journal}")
        if not summary.stopped:  # else said with the stop
            say(f"To put everything back: catsort undo {quoted(summary.journal)}")


class _StopOnSignals:
    """Turn the first Ctrl-C or SIGTERM into a stop event, so a watch ends cleanly; a second
    Ctrl-C ends the process at once, saying ``farewell``."""

    def __init__(self) -> None:
        import threading

        self.event = threading.Event()
        self.signal: int | None = None
        self.farewell = "Stopped at once."
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _StopOnSignals:
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]

    def _handle(self, number: int, frame: object) -> None:
        if self.event.is_set() and number == signal.SIGINT:
            # Not KeyboardInterrupt: raised in a worker pool's shutdown it is swallowed by
            # generator clean-up. Ending here is what a kill does, which loses nothing: each
            # move is journaled before it starts and is whole in one place, CSV rows are
            # flushed, the lock goes with the process.
            os.write(2, (self.farewell + "\n").encode("utf-8", "replace"))
            os._exit(130)
        if self.signal is None:
            self.signal = number
        self.event.set()

    def is_set(self) -> bool:
        """Tell whether a stop was asked for."""
        return self.event.is_set()
