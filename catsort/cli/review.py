"""catsort review: a local page to settle what the model was unsure of; or export the decisions."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catsort.cli.common import (
    GateThresholdOption,
    ModelOption,
    ThresholdOption,
    app,
    counted,
    fail,
    interrupted,
    quoted,
    say,
    say_error,
)

if TYPE_CHECKING:
    from catsort.api import Review


@app.command()
def review(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER_OR_CSV",
            show_default=False,
            help="A library catsort sorted (--move, --copy) or tagged (--tag), or the results "
            "CSV of a run that only classified.",
        ),
    ],
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Port on 127.0.0.1 for the page (default: a free one)."
        ),
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the page's URL, but open no browser.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Instead of a page: write the photos a person decided into class folders "
            "DIR/<label>/ (hard links, else copies) for catsort train --data.",
        ),
    ] = None,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    gate_threshold: GateThresholdOption = None,
) -> None:
    """Settle what the model was unsure of on a local page: c cat, d dog, o not a pet."""
    from rich.status import Status

    from catsort import api
    from catsort.cli.common import err_console

    api.quiet_pillow_warnings()
    try:
        classifier = api.load_model(model)
        with Status("Reading the photos", console=err_console) as status:
            seen = 0

            def heard(_: object) -> None:
                nonlocal seen
                seen += 1
                if seen % 50 == 0:
                    status.update(f"Reading the photos: {seen}")

            opened = api.open_review(
                source,
                classifier,
                threshold=threshold,
                gate_threshold=gate_threshold,
                on_photo=heard,
            )
        with opened as under_review:
            if export is not None:
                raise typer.Exit(_export(under_review, export))
            _introduce(under_review)
            try:
                with _sigterm_as_ctrl_c():
                    api.serve_review(
                        under_review,
                        port=port,
                        open_browser=not no_browser,
                        on_url=lambda url: print(url, flush=True),
                    )
            except KeyboardInterrupt:
                pass  # Ctrl-C (or SIGTERM) is how a review ends
    except api.CatsortError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        raise interrupted(None) from None
    raise typer.Exit(_conclude(under_review))


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """End a review stopped with SIGTERM as Ctrl-C ends it: the session closed (its journal,
    the lock), the summary said. uvicorn passes the signal on once it has stopped serving."""

    def stop(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _introduce(under_review: Review) -> None:
    """Say what is under review and how to stop (the URL alone goes to stdout)."""
    items = under_review.items
    todo = sum(1 for item in items if item.decided is None)
    left_out = under_review.source.left_out
    unread = f"; {left_out} could not be read, nothing to decide" if left_out else ""
    say(
        f"{len(items)} photos, {todo} to decide{unread}. "
        "Keys: c cat, d dog, o not a pet, s skip, u undo. Ctrl-C here to stop."
    )
    for problem in under_review.source.session.summary.problems:  # a results cache unwritable
        say(f"Warning: {problem}. Your decisions are acted on, but not remembered by later runs.")


def _conclude(under_review: Review) -> int:
    """The summary once the review stopped: what was decided, and how to put it back; what
    could not be written (a full disk). Return the exit code: 1 for the latter, else 0."""
    summary = under_review.summary()
    if not summary.total:
        say("No decisions.")
    else:
        labels = ", ".join(
            f"{count} {'not a pet' if label == 'other' else label}"
            for label, count in summary.decided.most_common()
        )
        done = [f"Decided {counted(summary.total, 'photo')}: {labels}."]
        if summary.moved:
            with_them = counted(summary.companions, "companion")
            companions = f", with {with_them}" if summary.companions else ""
            done.append(f"Moved {summary.moved}{companions}.")
        if summary.tagged:
            done.append(f"Changed {counted(summary.tagged, 'sidecar')}.")
        say(" ".join(done))
    if summary.failed:
        failed = counted(summary.failed, "decision")
        say(f"{failed} could not be carried out (the page said why).")
    if summary.reviewed_csv is not None:
        say(f"Corrected CSV: {summary.reviewed_csv}")
    if summary.journal is not None:
        say(f"Journal: {summary.journal}")
        say(f"To put it all back: catsort undo {quoted(summary.journal)}")
    for problem in summary.problems:
        say_error(problem)
    return 1 if summary.problems else 0


def _export(under_review: Review, out: Path) -> int:
    """Write the decisions as class folders, and say what was written; return the exit code
    (1: a full disk stopped it part way)."""
    written = under_review.export(out)
    how = []
    if written.linked:
        how.append(f"{written.linked} linked")
    if written.copied:
        how.append(f"{written.copied} copied")
    if written.already:
        how.append(f"{written.already} there already")
    if how or written.stopped is None:
        say(f"{out}: {', '.join(how) or 'no photos a person decided'}.")
    for reason, count in written.left_out.most_common():
        say(f"Left out {count}: {reason}.")
    if written.stopped is not None:
        say_error(
            f"{written.stopped}; the export stopped there: the same command again adds the rest"
        )
        return 1
    if written.written or written.already:
        say(f"Train on them: catsort train --data {quoted(out)}")
    return 0
