"""What the commands share: the Typer app, the error console, how an error is shown (its exit
code, its settings named by their options), and the options classify and watch both take.

The command line imports catsort's public API only (catsort.api), inside the commands, so that
``catsort --help`` answers without loading the model's libraries.
"""

from __future__ import annotations

import os
import shlex
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand

if TYPE_CHECKING:
    from catsort.api import CatsortError, RunSummary, SortPlan, TagSettings

#: What an option's value is called in the help where the option names nothing itself (Typer
#: writes ``<path>``, ``<int range>``), by the name of its type.
METAVARS = {
    "path": "PATH",
    "int": "N",
    "int range": "N",
    "float": "NUMBER",
    "float range": "NUMBER",
    "str": "TEXT",
}


class Command(TyperCommand):
    """A command whose help reads as a manual's: ``PATHS...`` on the usage line, where Typer
    writes a required argument as ``{PATHS}``, and ``--dest DIR``, not ``--dest <path>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "option" and param.metavar is None:
                name = param.type.name
                param.metavar = METAVARS.get(name, name.upper())

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line's pieces, each argument as it is named."""
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


app = typer.Typer(
    help="Sort the cats from the dogs in a folder of photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: two columns that stay readable at 80 (Rich's panels squeeze the text into a
    # fifth of the width there).
    rich_markup_mode=None,
)
err_console = Console(stderr=True)

#: The API's settings, as its errors name them -> the options that set them here.
FLAGS = {
    "action": "--move or --copy",
    "dest": "--dest",
    "other_dest": "--other-dest",
    "dry_run": "--dry-run",
    "flat": "--flat",
    "tag": "--tag",
    "naming": "--sidecar",
    "prefix": "--tag-prefix",
    "threshold": "--threshold",
    "gate_threshold": "--gate-threshold",
    "use_gate": "--no-gate",
    "batch_size": "--batch-size",
    "workers": "--threads",
    "videos": "--no-videos",
    "model": "--model",
    "csv": "--csv",
    "poll": "--poll",
    "settle": "--settle",
    "poll_interval": "--poll-interval",
    "part_rows": "--part-rows",
    "address": "--address",
    "output": "--output",
}


def fail(error: CatsortError) -> typer.Exit:
    """Print a CatsortError as one red line (settings named by their options) and return the
    Exit to raise."""
    say_error(error.spelled(FLAGS))
    return typer.Exit(exit_code(error))


def say_error(message: str) -> None:
    """Print ``Error:`` in red and the message, on one line on stderr."""
    # Escaped: file names such as "[2020] trip" are not Rich markup.
    err_console.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def exit_code(error: CatsortError) -> int:
    """What the command line exits with for an error: 1 when the work failed part way, 2 for a
    problem with the input or settings (usage), as for a mistyped option."""
    from catsort.api import FAILED

    return 1 if error.kind == FAILED else 2


def say(message: str) -> None:
    """Print a plain line on stderr (file names in it are not Rich markup)."""
    err_console.print(message, highlight=False, soft_wrap=True, markup=False)


def interrupted(plan: SortPlan | None, summary: RunSummary | None = None) -> typer.Exit:
    """Say what a run stopped with Ctrl-C left behind; exit 130, as shells do for it."""
    say(" ".join(["Interrupted.", *left_behind(plan, summary)]))
    return typer.Exit(130)


def stopped(summary: RunSummary, plan: SortPlan) -> None:
    """Say why a run stopped part way (a file it had to write could not be), in red, and what
    it left: shown even with --quiet."""
    say_error(f"{summary.stopped}; the run stopped there.")
    left = left_behind(plan, summary, again="Once that is fixed (room made on a full disk)")
    if left:
        say(" ".join(left))


def left_behind(
    plan: SortPlan | None, summary: RunSummary | None = None, again: str = ""
) -> list[str]:
    """What a run that stopped part way leaves, and how to finish or undo it (if it sorted).

    With the run's ``summary``, the journals that put it back are named; ``again`` says what
    to do before the same command runs again.
    """
    from catsort.api import JOURNAL_DIR, MOVE

    if plan is None or plan.action is None or plan.dry_run:
        return []
    assert plan.dest is not None
    if plan.action == MOVE:
        state = "Every photo is whole, in its old place or its new one."
    else:
        state = "The copies made so far are whole; the originals are untouched."
    finish = (
        f"{again}, run the same command again to finish"
        if again
        else ("Run the same command again to finish")
    )
    if summary is None:
        undo = (
            "put back what this run did with catsort undo and its journal, the newest in "
            f"{plan.dest / JOURNAL_DIR} (catsort undo --all {quoted(plan.dest)} puts back every "
            "run into it)"
        )
    else:
        journals = summary.job_journals or ([summary.journal] if summary.journal else [])
        if not journals:
            return [state, f"{finish}."]  # nothing was moved or copied: nothing to put back
        undo = f"put back what it did with {undo_command(journals, plan.dest)}"
    return [state, f"{finish}, or {undo}."]


def undo_command(journals: list[Path], dest: Path) -> str:
    """The command that undoes these journals (newest first): --all DEST where they are all
    that DEST has left to undo."""
    from catsort.api import pending_journals

    if len(journals) == 1:
        return f"catsort undo {quoted(journals[0])}"
    left = pending_journals(dest)
    if {os.path.abspath(j) for j in left} == {os.path.abspath(j) for j in journals}:
        return f"catsort undo --all {quoted(dest)}"
    return "catsort undo " + " ".join(quoted(journal) for journal in journals)


def counted(count: int, noun: str, plural: str = "") -> str:
    """``1 file``, ``2 files``: a count and its noun, singular or plural."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def quoted(path: Path) -> str:
    """A path as a shell would need it typed."""
    return shlex.quote(str(path))


def no_output() -> AbstractContextManager[None]:
    """In place of a CSV or plan writer the run does not have."""
    return nullcontext(None)


def action_of(move: bool, copy: bool) -> Literal["move", "copy"] | None:
    """The action --move or --copy asks for (one at most), or None for neither."""
    from catsort.api import COPY, MOVE, CatsortError

    if move and copy:
        raise CatsortError("--move and --copy cannot be used together")
    return MOVE if move else COPY if copy else None


def tag_settings(tag: bool, prefix: str | None, naming: str | None) -> TagSettings | None:
    """The --tag options together, or None without --tag."""
    from catsort.api import CatsortError, TagSettings

    if not tag:
        for given, option in ((prefix, "--tag-prefix"), (naming, "--sidecar")):
            if given is not None:
                raise CatsortError(f"{option} needs --tag")
        return None
    defaults = TagSettings()
    return TagSettings(
        defaults.prefix if prefix is None else prefix, defaults.naming if naming is None else naming
    )


# --- options classify and watch share ----------------------------------------------------------


def _not_nan(value: float | None) -> float | None:
    # The range check lets NaN through (every comparison with it is false).
    if value is not None and value != value:
        raise typer.BadParameter("must be a number from 0 to 1, not nan")
    return value


MoveOption = Annotated[bool, typer.Option("--move", help="Move each photo into <dest>/<label>/.")]
CopyOption = Annotated[bool, typer.Option("--copy", help="Copy each photo into <dest>/<label>/.")]
TagOption = Annotated[
    bool,
    typer.Option(
        "--tag",
        help="Write each cat or dog photo's label as a keyword into its XMP sidecar "
        "(beside the photo; after --move/--copy, where it went). Journaled: undo puts "
        "the earlier sidecars back.",
    ),
]
TagPrefixOption = Annotated[
    str | None,
    typer.Option(
        metavar="PARENT",
        help="Parent of the hierarchical keyword (default Animals: Animals|Cat; '' for none).",
    ),
]
SidecarOption = Annotated[
    str | None,
    typer.Option(
        metavar="auto|xmp|ext.xmp",
        help="Sidecar names: auto (the one a photo has, else IMG.xmp), xmp (IMG.xmp, "
        "Adobe) or ext.xmp (IMG.JPG.xmp, darktable, digiKam).",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="PATTERN",
        help="Leave out what matches this gitignore-style pattern, relative to the folder "
        "given (e.g. 'Exports/', '*.png'); repeatable.",
    ),
]
VideosOption = Annotated[
    bool,
    typer.Option(
        "--videos/--no-videos",
        help="Classify videos (.mp4 .mov .m4v .3gp .avi .mkv .webm) from a few frames each; "
        "--no-videos leaves them alone. A Live Photo's video goes with its photo either way.",
    ),
]
ModelOption = Annotated[
    Path | None,
    typer.Option(help="Model folder, metadata .json or .tflite (default: the shipped model)."),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        callback=_not_nan,
        help="Confidence below which a photo is 'uncertain' (default: the model's).",
    ),
]
GateOption = Annotated[
    bool,
    typer.Option("--gate/--no-gate", help="Label photos that look like neither pet 'other'."),
]
GateThresholdOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        callback=_not_nan,
        help="Pet score below which a photo is 'other' (default: the model's).",
    ),
]
CsvOption = Annotated[
    str | None,
    typer.Option(
        "--csv", metavar="PATH", help="Write one row per photo to this CSV ('-': stdout)."
    ),
]
OtherDestOption = Annotated[
    Path | None,
    typer.Option(metavar="DIR", help="Also move/copy 'other' photos, into this folder."),
]
