"""catsort classify: classify photos, and move, copy or tag them; or classify with Ray."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catsort.cli.common import (
    Command,
    CopyOption,
    CsvOption,
    ExcludeOption,
    GateOption,
    GateThresholdOption,
    ModelOption,
    MoveOption,
    OtherDestOption,
    SidecarOption,
    TagOption,
    TagPrefixOption,
    ThresholdOption,
    VideosOption,
    action_of,
    app,
    err_console,
    fail,
    interrupted,
    left_behind,
    no_output,
    say,
    stopped,
    tag_settings,
    undo_command,
)

if TYPE_CHECKING:
    from catsort.api import RunSettings, RunSummary, SortPlan
    from catsort.cli.display import Outputs


@app.command(cls=Command)
def classify(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="PATHS...",
            show_default=False,
            help="Photos and folders of photos (folders are walked); with --engine ray, also "
            "URLs (s3://bucket/prefix, gs://..., file://...).",
        ),
    ],
    csv_path: CsvOption = None,
    move: MoveOption = False,
    copy: CopyOption = False,
    dest: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Where the label folders go (default: the folder given)."),
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
    other_dest: OtherDestOption = None,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="Walk into subfolders.")
    ] = True,
    exclude: ExcludeOption = None,
    videos: VideosOption = True,
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
    # catsort.types.BATCH_SIZE (not imported here: --help stays free of numpy)
    batch_size: Annotated[int, typer.Option(min=1, help="Photos per model call.")] = 4,
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
            help="'ray': classify with Ray Data (pip install \"catsort[distributed]\"), "
            "writing Parquet parts to --output.",
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="With --engine ray: the Ray cluster to run on (default: a local one).",
        ),
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
    from catsort import api
    from catsort.cli.display import Outputs, RunDisplay

    if engine != "local" or any(api.is_url(text) for text in inputs):
        sorting = {
            "--move": move,
            "--copy": copy,
            "--dest": dest is not None,
            "--other-dest": other_dest is not None,
            "--dry-run": dry_run,
            "--csv": csv_path is not None,
            "--flat": flat,
            "--tag": tag,
        }
        ray_settings = api.RunSettings(
            recursive=recursive,
            threshold=threshold,
            use_gate=gate,
            gate_threshold=gate_threshold,
            batch_size=batch_size,
            workers=threads,  # Ray actors, one model thread each
        )
        classify_ray(
            inputs,
            engine=engine,
            address=address,
            output=output,
            sorting=[name for name, given in sorting.items() if given],
            model=model,
            settings=ray_settings,
            part_rows=part_rows,
            quiet=quiet,
        )
    api.quiet_pillow_warnings()
    run = None
    output_to: Outputs | None = None
    summary: RunSummary | None = None
    try:
        if address is not None or output is not None:
            raise api.CatsortError("--address and --output need --engine ray")
        action = action_of(move, copy)
        tagging = tag_settings(tag, tag_prefix, sidecar)
        settings = api.RunSettings(
            recursive=recursive,
            threshold=threshold,
            use_gate=gate,
            gate_threshold=gate_threshold,
            batch_size=batch_size,
            workers=api.split_threads(threads)[0],
            follow_links=follow_links,
            exclude=tuple(exclude or ()),
            cache=not no_cache,
            refresh=refresh,
            videos=videos,
        )
        classifier = api.load_model(model, threads=threads)
        run = api.plan_run(
            [Path(text) for text in inputs],
            classifier,
            action=action,
            dest=dest,
            other_dest=other_dest,
            dry_run=dry_run,
            flat=flat,
            tag=tagging,
            settings=settings,
        )  # checked before --csv replaces an earlier results file
        labels = classifier.metadata.labels
        with (
            api.open_results(csv_path, labels) if csv_path is not None else no_output() as writer,
            # The plan of a dry run goes to stdout, unless the CSV does.
            api.open_plan() if dry_run and csv_path != "-" else no_output() as plan_out,
            RunDisplay(err_console, quiet=quiet, dry_run=dry_run) as display,
        ):
            display.count_in_background(run.photos)
            output_to = Outputs(display, writer, plan_out)
            summary = run.start(output_to)
    except api.CatsortError as exc:
        if summary is None:
            stop = fail(exc)
            # An error after the first result stopped a run part way.
            seen = output_to is not None and output_to.seen
            left = left_behind(run.plan if run else None, output_to.summary if output_to else None)
            if left and seen:
                say(" ".join(left))
            raise stop from None
        # The run went to its end; the CSV failed only as it was closed (a network share).
        fail(exc)
        summary.problems.append(str(exc))
    except KeyboardInterrupt:
        raise interrupted(
            run.plan if run else None, output_to.summary if output_to else None
        ) from None
    assert run is not None
    if not quiet:
        show_summary(summary, run.plan, classifier.has_gate)
    if summary.stopped:
        stopped(summary, run.plan)  # last, with --quiet too: what stopped it, how to go on
    raise typer.Exit(summary.exit_code)


def show_summary(summary: RunSummary, plan: SortPlan, has_gate: bool) -> None:
    """The end of a run: the summary table, errors by reason, what the walk left alone, the
    journal and how to put everything back."""
    from catsort.cli.display import error_reasons_table, left_alone_lines, summary_table

    if summary.files == 0:
        err_console.print("No photos found.", highlight=False)
    err_console.print(
        summary_table(summary, action=plan.action, dry_run=plan.dry_run, has_gate=has_gate)
    )
    reasons = error_reasons_table(summary)
    if reasons is not None:
        err_console.print(reasons)
    for line in left_alone_lines(summary):
        err_console.print(line, highlight=False, soft_wrap=True)
    if summary.journal is not None:  # only a run that moved or copied something has one
        say(f"Journal: {summary.journal}")
    # The whole job: this run's journal and those of the interrupted runs it finished.
    journals = summary.job_journals or ([summary.journal] if summary.journal else [])
    if journals and plan.dest is not None and not summary.stopped:  # else said with the stop
        say(f"To put everything back: {undo_command(journals, plan.dest)}")


def classify_ray(
    inputs: list[str],
    *,
    engine: str,
    address: str | None,
    output: str | None,
    sorting: list[str],
    model: Path | None,
    settings: RunSettings,
    part_rows: int,
    quiet: bool,
) -> None:
    """Classify with the Ray engine (or refuse a URL input the local engine cannot take)."""
    from catsort import api
    from catsort.cli.display import RunDisplay, error_reasons_table, summary_table

    try:
        if engine not in ("local", "ray"):
            raise api.CatsortError(f"--engine {engine}: use local or ray")
        moving = [name for name in sorting if name in ("--move", "--copy")]
        if moving or (sorting and engine == "ray"):
            raise api.CatsortError(
                f"{(moving or sorting)[0]}: photos on object storage and --engine ray are only "
                "classified (their rows go to --output); --move, --copy and --csv need a local run"
            )
        if engine == "local":
            raise api.CatsortError(
                f"{inputs[0]}: a URL input needs --engine ray --output DIR_OR_URL"
            )
        if output is None:
            raise api.CatsortError("--engine ray needs --output DIR_OR_URL for its Parquet results")
        api.quiet_pillow_warnings()
        job = api.prepare_ray(inputs, output, model, settings, address=address, part_rows=part_rows)
        with RunDisplay(err_console, quiet=quiet) as display:
            summary = job.start(display)
    except api.CatsortError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        say(
            "Interrupted. The parts written so far are whole; run the same command again to finish."
        )
        raise typer.Exit(130) from None
    if not quiet:
        if summary.files == 0 and not summary.already:
            err_console.print("No photos found.", highlight=False)
        err_console.print(summary_table(summary, has_gate=summary.has_gate))
        reasons = error_reasons_table(summary)
        if reasons is not None:
            err_console.print(reasons)
        say(f"Results: {output}")
    raise typer.Exit(summary.exit_code)
