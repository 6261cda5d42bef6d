"""The catsort command line: options and printing only; the work lives in the modules."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from catsort import __version__
from catsort.errors import CatsortError

if TYPE_CHECKING:
    from catsort.run import SortPlan

app = typer.Typer(
    help="Sort the cats from the dogs in a folder of photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def fail(error: CatsortError) -> typer.Exit:
    """Print a CatsortError as one red line and return the Exit to raise."""
    # Escaped: file names such as "[2020] trip" are not Rich markup.
    err_console.print(f"[red]Error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def _interrupted(plan: SortPlan | None) -> typer.Exit:
    """Say what a run stopped with Ctrl-C left behind; exit 130, as shells do for it."""
    message = " ".join(["Interrupted.", *_left_behind(plan)])
    err_console.print(message, highlight=False, soft_wrap=True, markup=False)
    return typer.Exit(130)


def _left_behind(plan: SortPlan | None) -> list[str]:
    """What a run that stopped part way leaves, and how to finish or undo it (if it sorted)."""
    from catsort.sorting.journal import JOURNAL_DIR
    from catsort.sorting.place import MOVE

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
        f"(catsort undo --all {_quoted(plan.dest)} puts back every run into it)",
    ]


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


# --- classify / undo -------------------------------------------------------------------------


def _not_nan(value: float | None) -> float | None:
    # The range check lets NaN through (every comparison with it is false).
    if value is not None and value != value:
        raise typer.BadParameter("must be a number from 0 to 1, not nan")
    return value


# Options classify and watch share.
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


@app.command()
def classify(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="PATHS",
            show_default=False,
            help="Photos and folders of photos (folders are walked); with --engine ray, also "
            "URLs (s3://bucket/prefix, gs://..., file://...).",
        ),
    ],
    csv_path: Annotated[
        str | None,
        typer.Option(
            "--csv", metavar="PATH", help="Write one row per photo to this CSV ('-': stdout)."
        ),
    ] = None,
    move: MoveOption = False,
    copy: CopyOption = False,
    dest: Annotated[
        Path | None, typer.Option(help="Where the label folders go (default: the folder given).")
    ] = None,
    flat: Annotated[
        bool,
        typer.Option(
            "--flat",
            help="Put the photos straight into the label folders, without the folders they "
            "were in (default: <dest>/<label>/<their folder relative to the folder given>/).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print where --move/--copy would put each photo (label, source, destination, "
            "tab-separated, on stdout); touch nothing.",
        ),
    ] = False,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    gate: GateOption = True,
    gate_threshold: GateThresholdOption = None,
    other_dest: Annotated[
        Path | None, typer.Option(help="Also move/copy 'other' photos, into this folder.")
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="Walk into subfolders.")
    ] = True,
    exclude: ExcludeOption = None,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Walk into links to folders. Linked photos are never moved, nor photos that "
            "lie outside the folders given.",
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Threads to use (default: one per core): up to 4 workers, each decoding "
            "photos and running its own copy of the model.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Photos per model call.")] = 8,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Classify every photo again, even those the results cache knows unchanged "
            "(and update the cache).",
        ),
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Neither read nor write the results cache."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary; only problems.")
    ] = False,
    tag: TagOption = False,
    tag_prefix: TagPrefixOption = None,
    sidecar: SidecarOption = None,
    engine: Annotated[
        str,
        typer.Option(
            metavar="local|ray",
            help="'ray': classify with Ray Data (pip install \"catsort\\[distributed]\"), "
            "writing Parquet parts to --output.",
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="With --engine ray: the Ray cluster to run on (default: a local one)."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            metavar="DIR_OR_URL",
            help="With --engine ray: the folder or bucket prefix for the Parquet results; "
            "a rerun skips the photos already there.",
        ),
    ] = None,
    part_rows: Annotated[
        int, typer.Option(min=1, help="With --engine ray: photos per Parquet part.")
    ] = 1000,
) -> None:
    """Classify photos with the model; optionally move or copy them into label folders."""
    from catsort.distributed import is_url

    paths = [Path(text) for text in inputs]
    if engine != "local" or any(is_url(text) for text in inputs):
        _classify_ray(
            inputs,
            engine=engine,
            address=address,
            output=output,
            sorting=[
                name
                for name, given in (
                    ("--move", move),
                    ("--copy", copy),
                    ("--dest", dest is not None),
                    ("--other-dest", other_dest is not None),
                    ("--dry-run", dry_run),
                    ("--csv", csv_path is not None),
                    ("--flat", flat),
                    ("--tag", tag),
                )
                if given
            ],
            model=model,
            threshold=threshold,
            gate=gate,
            gate_threshold=gate_threshold,
            recursive=recursive,
            threads=threads,
            batch_size=batch_size,
            part_rows=part_rows,
            quiet=quiet,
        )
    if address is not None or output is not None:
        raise fail(CatsortError("--address and --output need --engine ray"))
    from catsort.csv_out import open_plan, open_results
    from catsort.display import RunDisplay, error_reasons_table, left_alone_lines, summary_table
    from catsort.images import quiet_pillow_warnings
    from catsort.model import load_model
    from catsort.pipeline import split_threads
    from catsort.run import RunSettings, check_plan, find_inputs, make_plan, run_classify
    from catsort.sorting.place import COPY, MOVE
    from catsort.walk import check_inputs

    quiet_pillow_warnings()
    plan = None
    seen = 0  # results so far: an error after the first one stopped a run part way
    try:
        if move and copy:
            raise CatsortError("--move and --copy cannot be used together")
        check_inputs(paths)
        action = MOVE if move else COPY if copy else None
        tagging = _tag_settings(tag, tag_prefix, sidecar)
        workers, model_threads = split_threads(threads)
        classifier = load_model(model, model_threads)
        labels = classifier.metadata.labels
        plan = make_plan(paths, action, dest, other_dest, dry_run, flat, labels, tag=tag)
        if gate_threshold is not None and not gate:
            raise CatsortError("--gate-threshold and --no-gate cannot be used together")
        settings = RunSettings(
            recursive=recursive,
            threshold=threshold,
            use_gate=gate,
            gate_threshold=gate_threshold,
            batch_size=batch_size,
            workers=workers,
            follow_links=follow_links,
            exclude=tuple(exclude or ()),
            cache=not no_cache,
            refresh=refresh,
        )
        check_plan(plan, paths, labels)  # before --csv replaces an earlier results file
        with (
            open_results(csv_path, labels) if csv_path is not None else _no_csv() as writer,
            # The plan of a dry run goes to stdout, unless the CSV does.
            open_plan() if dry_run and csv_path != "-" else _no_csv() as plan_out,
            RunDisplay(err_console, quiet=quiet, dry_run=dry_run) as display,
        ):
            display.count_in_background(
                lambda: find_inputs(
                    paths,
                    plan,
                    labels,
                    recursive,
                    follow_links=settings.follow_links,
                    exclude=settings.exclude,
                )
            )

            def on_result(result) -> None:
                nonlocal seen
                seen += 1
                if writer is not None:
                    writer.write(result)
                if plan_out is not None:
                    plan_out.write(result)
                display.result(result)

            summary = run_classify(
                paths, classifier, plan, settings, on_result, display.note, tagging, display.warning
            )
    except CatsortError as exc:
        stop = fail(exc)
        left = _left_behind(plan) if seen else []
        if left:
            err_console.print(" ".join(left), highlight=False, soft_wrap=True, markup=False)
        raise stop from None
    except KeyboardInterrupt:
        raise _interrupted(plan) from None
    if not quiet:
        if summary.files == 0:
            err_console.print("No photos found.", highlight=False)
        err_console.print(summary_table(summary, action, dry_run, classifier.has_gate))
        reasons = error_reasons_table(summary)
        if reasons is not None:
            err_console.print(reasons)
        for line in left_alone_lines(summary):
            err_console.print(line, highlight=False, soft_wrap=True)
        if summary.journal is not None:  # only a run that moved or copied something has one
            err_console.print(
                f"Journal: {summary.journal}", highlight=False, soft_wrap=True, markup=False
            )
        # The whole job: this run's journal and those of the interrupted runs it finished.
        journals = summary.job_journals or ([summary.journal] if summary.journal else [])
        if journals and plan.dest is not None:
            err_console.print(
                f"To put everything back: {_undo_command(journals, plan.dest)}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    raise typer.Exit(summary.exit_code)


def _undo_command(journals: list[Path], dest: Path) -> str:
    """The command that undoes these journals (newest first): --all DEST where they are all
    that DEST has left to undo."""
    from catsort.sorting.journal import JOURNAL_DIR, is_undone, journals_newest_first

    if len(journals) == 1:
        return f"catsort undo {_quoted(journals[0])}"
    left = [j for j in journals_newest_first(dest / JOURNAL_DIR) if not is_undone(j)]
    if {os.path.abspath(j) for j in left} == {os.path.abspath(j) for j in journals}:
        return f"catsort undo --all {_quoted(dest)}"
    return "catsort undo " + " ".join(_quoted(journal) for journal in journals)


def _classify_ray(
    inputs: list[str],
    *,
    engine: str,
    address: str | None,
    output: str | None,
    sorting: list[str],
    model: Path | None,
    threshold: float | None,
    gate: bool,
    gate_threshold: float | None,
    recursive: bool,
    threads: int | None,
    batch_size: int,
    part_rows: int,
    quiet: bool,
) -> None:
    """Classify with the Ray engine (or refuse a URL input the local engine cannot take)."""
    from catsort.distributed import missing

    try:
        if engine not in ("local", "ray"):
            raise CatsortError(f"--engine {engine}: use local or ray")
        moving = [name for name in sorting if name in ("--move", "--copy")]
        if moving or (sorting and engine == "ray"):
            raise CatsortError(
                f"{(moving or sorting)[0]}: photos on object storage and --engine ray are only "
                "classified (their rows go to --output); --move, --copy and --csv need a local run"
            )
        if engine == "local":
            raise CatsortError(f"{inputs[0]}: a URL input needs --engine ray --output DIR_OR_URL")
        absent = missing()
        if absent is not None:
            raise CatsortError(
                f"--engine ray needs {absent}, which is not installed; install it with: "
                'pip install "catsort[distributed]"'
            )
        if output is None:
            raise CatsortError("--engine ray needs --output DIR_OR_URL for its Parquet results")
        if gate_threshold is not None and not gate:
            raise CatsortError("--gate-threshold and --no-gate cannot be used together")
        from catsort.display import RunDisplay, error_reasons_table, summary_table
        from catsort.distributed.engine import prepare, run_job
        from catsort.images import quiet_pillow_warnings
        from catsort.run import RunSettings

        quiet_pillow_warnings()
        settings = RunSettings(
            recursive=recursive,
            threshold=threshold,
            use_gate=gate,
            gate_threshold=gate_threshold,
            batch_size=batch_size,
            workers=threads,
        )
        job = prepare(inputs, output, model, settings, address=address, part_rows=part_rows)
        with RunDisplay(err_console, quiet=quiet) as display:
            summary = run_job(
                job,
                on_row=lambda row: display.outcome(
                    row.path,
                    row.error if row.status == "error" else None,
                    row.error if row.status == "skipped" else None,
                ),
                on_note=display.note,
            )
    except CatsortError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        err_console.print(
            "Interrupted. The parts written so far are whole; run the same command again to "
            "finish.",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(130) from None
    if not quiet:
        if summary.files == 0 and not summary.already:
            err_console.print("No photos found.", highlight=False)
        err_console.print(summary_table(summary, None, False, summary.has_gate))
        reasons = error_reasons_table(summary)
        if reasons is not None:
            err_console.print(reasons)
        err_console.print(f"Results: {output}", highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(summary.exit_code)


@app.command()
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
    from catsort.names import shown
    from catsort.sorting.journal import undo as undo_journal
    from catsort.sorting.journal import undo_all

    try:
        if all_journals:
            results = [pair for dest in journals for pair in undo_all(dest)]
        else:
            results = [(journal, undo_journal(journal)) for journal in journals]
    except CatsortError as exc:
        raise fail(exc) from None
    several = len(results) > 1
    left_alone = False
    for journal, result in results:
        if result.already_undone and several:
            err_console.print(
                f"{shown(journal)}: already undone, passed over",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            continue
        for message in [*result.notes, *result.skipped]:
            err_console.print(shown(message), highlight=False, soft_wrap=True, markup=False)
        if not result.already_undone:
            left_alone = left_alone or bool(result.skipped)
            sidecars = f", put back {len(result.sidecars)} sidecars" if result.sidecars else ""
            err_console.print(
                f"{shown(journal) + ': p' if several else 'P'}ut back {len(result.restored)} "
                f"files, removed {len(result.removed)} copies{sidecars}, "
                f"left {len(result.skipped)} alone.",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    if left_alone:
        again = " ".join(_quoted(path) for path in journals)
        err_console.print(
            f"Once the problems above are dealt with (a place taken, a copy "
            f"changed), run catsort undo {'--all ' if all_journals else ''}{again} again: it "
            "retries only what it left alone.",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    raise typer.Exit(1 if left_alone else 0)


def _tag_settings(tag: bool, prefix: str | None, naming: str | None):
    """The --tag options together, or None without --tag."""
    if not tag:
        for given, option in ((prefix, "--tag-prefix"), (naming, "--sidecar")):
            if given is not None:
                raise CatsortError(f"{option} needs --tag")
        return None
    from catsort.tagging.sidecar import TagSettings

    defaults = TagSettings()
    return TagSettings(
        defaults.prefix if prefix is None else prefix, defaults.naming if naming is None else naming
    )


def _no_csv():
    from contextlib import nullcontext

    return nullcontext(None)


def _quoted(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


# --- watch -----------------------------------------------------------------------------------


@app.command()
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
        Path | None, typer.Option(help="Where the label folders go (default: FOLDER).")
    ] = None,
    other_dest: Annotated[
        Path | None, typer.Option(help="Also move/copy 'other' photos, into this folder.")
    ] = None,
    csv_path: Annotated[
        str | None,
        typer.Option(
            "--csv", metavar="PATH", help="Write one row per photo to this CSV ('-': stdout)."
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            min=0.0,
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
        float, typer.Option(min=0.01, help="Seconds between looks with --poll.")
    ] = 1.0,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    gate: GateOption = True,
    gate_threshold: GateThresholdOption = None,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="Watch subfolders too.")
    ] = True,
    exclude: ExcludeOption = None,
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
    from catsort.csv_out import open_results
    from catsort.display import WatchDisplay, error_reasons_table, summary_table
    from catsort.images import quiet_pillow_warnings
    from catsort.model import load_model
    from catsort.pipeline import split_threads
    from catsort.run import RunSettings, make_plan
    from catsort.sorting.place import COPY, MOVE
    from catsort.watch import WatchSettings, watch_folder

    quiet_pillow_warnings()
    plan = None
    action = MOVE if move else COPY if copy else None
    with _StopOnSignals() as stop:
        try:
            if move and copy:
                raise CatsortError("--move and --copy cannot be used together")
            if gate_threshold is not None and not gate:
                raise CatsortError("--gate-threshold and --no-gate cannot be used together")
            tagging = _tag_settings(tag, tag_prefix, sidecar)
            plan = make_plan([folder], action, dest, other_dest)
            stop.farewell = " ".join(["Stopped at once.", *_left_behind(plan)])
            workers, model_threads = split_threads(threads)
            classifier = load_model(model, model_threads)
            settings = RunSettings(
                recursive=recursive,
                threshold=threshold,
                use_gate=gate,
                gate_threshold=gate_threshold,
                workers=workers,
                exclude=tuple(exclude or ()),
            )
            display = WatchDisplay(err_console, folder, quiet)
            labels = classifier.metadata.labels
            with open_results(csv_path, labels) if csv_path is not None else _no_csv() as writer:

                def on_result(result) -> None:
                    if writer is not None:
                        writer.write(result)
                    display.result(result)

                def on_ready() -> None:
                    display.note(
                        f"Watching {folder} (a photo is taken once unchanged for {settle:g} s"
                        f"{', polling' if poll else ''}); Ctrl-C to stop."
                    )

                summary = watch_folder(
                    folder,
                    classifier,
                    plan,
                    settings,
                    WatchSettings(settle=settle, poll=poll, poll_interval=poll_interval),
                    stop,
                    on_result,
                    display.note,
                    on_ready,
                    tagging,
                )
        except CatsortError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:  # before the handlers were in place
            raise _interrupted(plan) from None
    if not quiet:
        err_console.print(
            summary_table(summary, action, False, classifier.has_gate, "catsort watch", False)
        )
        reasons = error_reasons_table(summary)
        if reasons is not None:
            err_console.print(reasons)
        if summary.journal is not None:
            err_console.print(
                f"Journal: {summary.journal}", highlight=False, soft_wrap=True, markup=False
            )
            err_console.print(
                f"To put everything back: catsort undo {_quoted(summary.journal)}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    # Ctrl-C exits 130 as shells expect; SIGTERM (a service manager stopping it) is a normal end.
    raise typer.Exit(130 if stop.signal == signal.SIGINT else summary.exit_code)


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


# --- report ----------------------------------------------------------------------------------


@app.command()
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
        typer.Option(help="Also write a self-contained HTML page with thumbnails to this file."),
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

    from catsort.names import shown
    from catsort.report.read import read_results
    from catsort.report.summary import summarize

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
        from catsort.report.text import render_summary

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


def _write_report_page(results, summary, out: Path, limit: int):
    from rich.progress import Progress

    from catsort.images import quiet_pillow_warnings
    from catsort.report.html import build_grids, write_html

    quiet_pillow_warnings()

    todo = sum(len(grid.rows) for grid in build_grids(results, limit))
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Thumbnails", total=todo)
        return write_html(
            results, summary, out, limit, progress=lambda done: progress.advance(task, done)
        )


# --- train -----------------------------------------------------------------------------------


@app.command()
def train(
    ctx: typer.Context,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            help="Folder of class folders (cats/, dogs/ ...), or of train/ and validation/ "
            "ones; give it more than once to train on several (classes matched by folder "
            "name). Default: download cats_and_dogs_filtered."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the model and its figures. Default: a new folder "
            "runs/<YYYYmmdd-HHMMSS>."
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Go on with a stopped or failed run (its .partial folder) from its last "
            "finished epoch, with its own settings; only --ship, --gate, --figures and "
            "--verbose can change."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Write into a folder that already holds a model.")
    ] = False,
    weights: Annotated[
        str,
        typer.Option(help="'imagenet' (Keras download), a MobileNetV2 no-top .h5 file, or 'none'."),
    ] = "imagenet",
    img_size: Annotated[int, typer.Option(min=32, help="Input size in pixels (square).")] = 224,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    epochs: Annotated[int, typer.Option(min=0, help="Stage 1 epochs (frozen base).")] = 10,
    fine_tune_epochs: Annotated[int, typer.Option(min=0, help="Stage 2 epochs.")] = 10,
    learning_rate: Annotated[
        float, typer.Option(help="Stage 1 Adam rate; stage 2 uses a tenth.")
    ] = 3e-4,
    fine_tune_at: Annotated[
        int, typer.Option(min=0, help="First base layer unfrozen in stage 2.")
    ] = 100,
    val_split: Annotated[
        float,
        typer.Option(
            min=0.01, max=0.9, help="Share held out when --data has no validation/ folder."
        ),
    ] = 0.2,
    labels: Annotated[
        str | None,
        typer.Option(
            help="Folder-to-label mapping, e.g. 'cats=cat,dogs=dog'. "
            "Default: singular folder names."
        ),
    ] = None,
    ship: Annotated[
        str, typer.Option(help="Variant written as catsort.tflite: int8 or float32.")
    ] = "int8",
    pet_gate: Annotated[
        str,
        typer.Option(
            "--gate",
            help="Pet gate: 'mahalanobis' (the original MobileNetV2's features, a second "
            "branch in the model that also gives a second opinion on the class, and a low "
            "layer's statistics) or 'knn' (the fine-tuned features).",
        ),
    ] = "mahalanobis",
    figures: Annotated[bool, typer.Option(help="Save learning curves and photo grids.")] = True,
    seed: Annotated[int, typer.Option()] = 1337,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show TensorFlow's own log lines and warnings.")
    ] = False,
) -> None:
    """Fine-tune MobileNetV2 on class folders and export it to TensorFlow Lite.

    Ctrl-C stops at the next batch; the run's .partial folder keeps every finished epoch, and
    --resume goes on from there.
    """
    import contextlib

    from catsort.training.logs import filtered_stderr, quiet_tensorflow

    with contextlib.ExitStack() as quiet:
        if not verbose:
            quiet_tensorflow()  # before TensorFlow is imported: its C++ logging reads it then
            quiet.enter_context(filtered_stderr())
        try:
            from catsort.training import train as training
            from catsort.training.runs import new_run_folder
        except ImportError as exc:
            # Escaped: "[train]" is not Rich markup (unescaped, the hint read pip install
            # "catsort").
            err_console.print(
                f"[red]Error:[/red] training needs TensorFlow ({escape(str(exc.name))} is "
                "missing); " + escape('install it with: pip install "catsort[train]"'),
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None
        from catsort.images import quiet_pillow_warnings

        quiet_pillow_warnings()

        def say(message: str) -> None:
            # Not markup: the messages hold paths, such as "photos [best]".
            err_console.print(message, highlight=False, markup=False, soft_wrap=True)

        try:
            if resume is not None:
                result = training.resume(
                    resume, say, **_resume_changes(ctx, ship, pet_gate, figures, verbose)
                )
            else:
                config = training.TrainConfig(
                    data=list(data or []),
                    output=output if output is not None else new_run_folder(),
                    overwrite=overwrite,
                    weights=None if weights.lower() == "none" else weights,
                    img_size=img_size,
                    batch_size=batch_size,
                    epochs=epochs,
                    fine_tune_epochs=fine_tune_epochs,
                    learning_rate=learning_rate,
                    fine_tune_at=fine_tune_at,
                    val_split=val_split,
                    labels=_parse_labels(labels),
                    ship=ship,
                    gate=pet_gate,
                    figures=figures,
                    seed=seed,
                    tensorflow_logs=verbose,
                )
                result = training.train(config, say)
        except CatsortError as exc:
            if exc.exit_code == 130:  # Ctrl-C: what was lost and how to go on, not an error
                say(str(exc))
                raise typer.Exit(130) from None
            raise fail(exc) from None
    _print_training_summary(result)


def _resume_changes(
    ctx: typer.Context, ship: str, pet_gate: str, figures: bool, verbose: bool
) -> dict:
    """The settings given with --resume: those it may change, or an error naming the others."""

    def typed(name: str) -> bool:  # Click's ParameterSource (vendored by newer Typers)
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    given = {param.name for param in ctx.command.params if param.name and typed(param.name)}
    may = {"ship": ship, "pet_gate": pet_gate, "figures": figures}
    fixed = sorted(given - set(may) - {"resume", "verbose"})
    if fixed:
        options = ", ".join("--" + name.replace("_", "-") for name in fixed)
        raise CatsortError(
            f"--resume goes on with the run's own settings; {options} cannot change "
            "(only --ship, --gate, --figures and --verbose can)"
        )
    changes: dict = {"tensorflow_logs": verbose}
    for name, value in may.items():
        if name in given:
            changes["gate" if name == "pet_gate" else name] = value
    return changes


def _parse_labels(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    mapping = {}
    for pair in text.split(","):
        folder, sep, label = pair.partition("=")
        if not sep or not folder.strip() or not label.strip():
            raise CatsortError(
                f"--labels {text!r}: expected folder=label pairs, e.g. cats=cat,dogs=dog"
            )
        mapping[folder.strip()] = label.strip()
    return mapping


def _print_training_summary(result) -> None:
    from rich.table import Table
    from rich.text import Text

    from catsort.training.runs import chance_warning, summary_rows

    table = Table(title=Text(f"Exported {result.model_path}"))  # a Text: the path is not markup
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary_rows(result.metrics):
        table.add_row(name, value)
    err_console.print(table)
    warning = chance_warning(result.metrics, len(result.labels))
    if warning is not None:
        err_console.print(Text(warning, style="bold red"), soft_wrap=True)
