"""The catsort command line: options and printing only; the work lives in the modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from catsort import __version__
from catsort.errors import CatsortError

app = typer.Typer(
    help="Sort the cats from the dogs in a folder of photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def fail(error: CatsortError) -> typer.Exit:
    """Print a CatsortError as one red line and return the Exit to raise."""
    err_console.print(f"[red]Error:[/red] {error}", highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def _version(value: bool) -> None:
    if value:
        print(f"catsort {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Sort the cats from the dogs in a folder of photos."""


# --- classify / undo -------------------------------------------------------------------------


# --- report ----------------------------------------------------------------------------------


@app.command()
def report(
    csv: Annotated[Path, typer.Argument(
        metavar="CSV", show_default=False, help="Results CSV written by catsort classify.")],
    lowest: Annotated[int, typer.Option(
        min=0, help="How many of the least confident photos to list.")] = 10,
    truth: Annotated[Optional[str], typer.Option(
        metavar="folders", help="Check the labels against true classes. 'folders': the nearest "
        "folder in each photo's original path named after a label (cats/, Dog/, dogs/).")] = None,
    html: Annotated[Optional[Path], typer.Option(
        help="Also write a self-contained HTML page with thumbnails to this file.")] = None,
    html_limit: Annotated[int, typer.Option(
        min=0, help="Most photos per label on the page, least confident first (0 = all).")] = 500,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the summary as JSON instead of tables.")] = False,
) -> None:
    """Summarise a results CSV: counts, confidence, errors; accuracy and a page on request."""
    import json

    from catsort.report import display_text, read_results, summarize

    try:
        if truth not in (None, "folders"):
            raise CatsortError(f"--truth {truth}: the only source of truth is 'folders'")
        results = read_results(csv)
        summary = summarize(results, lowest=lowest, truth=truth == "folders")
        page = _write_report_page(results, summary, html, html_limit) if html else None
    except CatsortError as exc:
        raise fail(exc) from None
    if json_output:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        from catsort.report_text import render_summary

        Console(highlight=False).print(render_summary(summary))
    if page is not None:
        left_out = "".join(f"; {count} more {label} not shown (--html-limit)"
                           for label, count in page.left_out.items())
        err_console.print(f"Wrote {display_text(str(page.path))} ({page.shown} photos{left_out})",
                          highlight=False, markup=False, soft_wrap=True)


def _write_report_page(results, summary, out: Path, limit: int):
    from rich.progress import Progress

    from catsort.report_html import build_grids, write_html

    todo = sum(len(grid.rows) for grid in build_grids(results, limit))
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Thumbnails", total=todo)
        return write_html(results, summary, out, limit,
                          progress=lambda done: progress.advance(task, done))


# --- train -----------------------------------------------------------------------------------
