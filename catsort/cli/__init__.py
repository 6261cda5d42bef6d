"""The catsort command line: each command parses its options, calls catsort's public API
(catsort.api) and shows what came back; one module per command, the displays in display.py."""

from __future__ import annotations

import typer

from catsort import __version__
from catsort.cli.common import app


def _version(value: bool) -> None:
    if value:
        print(f"catsort {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool | None = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Sort the cats from the dogs in a folder of photos."""


# Importing a command's module adds the command to the app, in this order in --help.
from catsort.cli import classify, undo, watch, review, report, train  # noqa: E402, F401, I001

__all__ = ["app"]
