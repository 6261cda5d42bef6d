"""The catsort command line: options and printing only; the work lives in the modules."""

from __future__ import annotations

from typing import Optional

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


# --- train -----------------------------------------------------------------------------------
