"""catsort report: summarise a results CSV (or the Ray engine's Parquet) for a person."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from catsort.cli.common import Command, app, err_console, fail

if TYPE_CHECKING:
    from catsort.api import HtmlReport, ReportSummary, ResultsCsv


@app.command(cls=Command)
def report(
    csv: Annotated[
        str,
        typer.Argument(
            metavar="CSV",
            show_default=False,
            help="Results CSV written by catsort classify, or the Parquet output of "
            "--engine ray (a folder or a URL such as s3://bucket/results).",
        ),
    ],
    lowest: Annotated[
        int, typer.Option(min=0, help="How many of the least confident photos to list.")
    ] = 10,
    truth: Annotated[
        str | None,
        typer.Option(
            metavar="folders",
            help="Check the labels against true classes. 'folders': the nearest "
            "folder in each photo's original path named after a label (cats/, Dog/, dogs/).",
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also write a self-contained HTML page with thumbnails to this file.",
        ),
    ] = None,
    html_limit: Annotated[
        int,
        typer.Option(
            min=0, help="Most photos per label on the page, least confident first (0 = all)."
        ),
    ] = 500,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")
    ] = False,
) -> None:
    """Summarise a results CSV: counts, confidence, errors; accuracy and a page on request."""
    import json

    from catsort.api import CatsortError, read_results, shown, summarize

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
        from catsort.cli.report_text import render_summary

        Console(highlight=False).print(render_summary(summary))
    if page is not None:
        left_out = "".join(
            f"; {count} more {label} not shown (--html-limit)"
            for label, count in page.left_out.items()
        )
        err_console.print(
            f"Wrote {shown(str(page.path))} ({page.shown} photos{left_out})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _write_report_page(
    results: ResultsCsv, summary: ReportSummary, out: Path, limit: int
) -> HtmlReport:
    from rich.progress import Progress

    from catsort.api import quiet_pillow_warnings, write_html

    quiet_pillow_warnings()
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Thumbnails", total=None)
        return write_html(
            results,
            summary,
            out,
            limit,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
