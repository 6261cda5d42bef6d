"""What every command shares: the Typer app, the error console, and how an error is shown."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from catsort.errors import FAILED, CatsortError

app = typer.Typer(
    help="Sort the cats from the dogs in a folder of photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


#: The API's settings (as errors name them) -> the options that set them here.
FLAGS = {
    "naming": "--sidecar",
    "prefix": "--tag-prefix",
}


def fail(error: CatsortError) -> typer.Exit:
    """Print a CatsortError as one red line (settings named by their options) and return the
    Exit to raise."""
    message = error.spelled(FLAGS)
    # Escaped: file names such as "[2020] trip" are not Rich markup.
    err_console.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code(error))


def exit_code(error: CatsortError) -> int:
    """What the command line exits with for an error: 1 when the work failed part way, 2 for a
    problem with the input or settings (usage), as for a mistyped option."""
    return 1 if error.kind == FAILED else 2
