"""What the commands share: the Typer app, the error console, how an error is shown (its exit
code, its settings named by their options), and the options classify and watch both take.

The command line imports catsort's public API only (catsort.api), inside the commands, so that
``catsort --help`` answers without loading the model's libraries.
"""

from __future__ import annotations

import shlex
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from catsort.api import CatsortError, SortPlan, TagSettings

app = typer.Typer(
    help="Sort the cats from the dogs in a folder of photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
    message = error.spelled(FLAGS)
    # Escaped: file names such as "[2020] trip" are not Rich markup.
    err_console.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code(error))


def exit_code(error: CatsortError) -> int:
    """What the command line exits with for an error: 1 when the work failed part way, 2 for a
    problem with the input or settings (usage), as for a mistyped option."""
    from catsort.api import FAILED

    return 1 if error.kind == FAILED else 2


def say(message: str) -> None:
    """Print a plain line on stderr (file names in it are not Rich markup)."""
    err_console.print(message, highlight=False, soft_wrap=True, markup=False)


def interrupted(plan: SortPlan | None) -> typer.Exit:
    """Say what a run stopped with Ctrl-C left behind; exit 130, as shells do for it."""
    say(" ".join(["Interrupted.", *left_behind(plan)]))
    return typer.Exit(130)


def left_behind(plan: SortPlan | None) -> list[str]:
    """What a run that stopped part way leaves, and how to finish or undo it (if it sorted)."""
    from catsort.api import JOURNAL_DIR, MOVE

    if plan is None or plan.action is None or plan.dry_run:
        return []
    assert plan.dest is not None
    if plan.action == MOVE:
        state = "Every photo is whole, in its old place or its new one."
    else:
        state = "The copies made so far are whole; the originals are untouched."
    return [
        state,
        "Run the same command again to finish, or put back what this run did with "
        f"catsort undo and its journal, the newest in {plan.dest / JOURNAL_DIR} "
        f"(catsort undo --all {quoted(plan.dest)} puts back every run into it)",
    ]


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
    Path | None, typer.Option(help="Also move/copy 'other' photos, into this folder.")
]
