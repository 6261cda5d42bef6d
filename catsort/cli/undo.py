"""catsort undo: put back what a --move, --copy or --tag run did, from its journal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from catsort.cli.common import Command, app, counted, err_console, fail, quoted


@app.command(cls=Command)
def undo(
    journals: Annotated[
        list[Path],
        typer.Argument(
            metavar="JOURNAL...",
            show_default=False,
            help="The journal file a --move or --copy run printed (several: undone in the order "
            "given, newest first); with --all, the destination folder.",
        ),
    ],
    all_journals: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Undo every journal in DEST/.catsort, newest first, passing over those "
            "already undone.",
        ),
    ] = False,
) -> None:
    """Put the photos of a --move or --copy run back where they were."""
    from catsort import api
    from catsort.api import shown

    try:
        if all_journals:
            results = [result for dest in journals for result in api.undo_all(dest)]
        else:
            results = [api.undo(journal) for journal in journals]
    except api.CatsortError as exc:
        raise fail(exc) from None
    several = len(results) > 1
    left_alone = False
    for result in results:
        journal = shown(str(result.journal))
        if result.already_undone and several:
            err_console.print(
                f"{journal}: already undone, passed over",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            continue
        for message in [*result.notes, *result.skipped]:
            err_console.print(shown(message), highlight=False, soft_wrap=True, markup=False)
        for message in result.failed:  # a journal that could not record what undo did
            err_console.print(
                f"[red]Error:[/red] {escape(shown(message))}", highlight=False, soft_wrap=True
            )
        if not result.already_undone:
            left_alone = left_alone or bool(result.skipped or result.failed)
            sidecars = (
                f", put back {counted(len(result.sidecars), 'sidecar')}" if result.sidecars else ""
            )
            err_console.print(
                f"{journal + ': p' if several else 'P'}ut back "
                f"{counted(len(result.restored), 'file')}, removed "
                f"{counted(len(result.removed), 'copy', 'copies')}{sidecars}, "
                f"left {len(result.skipped)} alone.",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    if left_alone:
        again = " ".join(quoted(path) for path in journals)
        err_console.print(
            f"Once the problems above are dealt with (a place taken, a copy "
            f"changed, a full disk), run catsort undo {'--all ' if all_journals else ''}{again} "
            "again: it retries only what it left alone.",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    raise typer.Exit(1 if left_alone else 0)
