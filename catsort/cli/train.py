"""catsort train: fine-tune MobileNetV2 and export it (the train extra: TensorFlow)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from catsort import CatsortError
from catsort.cli.common import Command, app, err_console, fail, say

# --- train -----------------------------------------------------------------------------------


@app.command(cls=Command)
def train(
    ctx: typer.Context,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            help="Folder of class folders (cats/, dogs/ ...), or of train/ and validation/ "
            "ones; give it more than once to train on several (classes matched by folder "
            "name, cats/ and cat/ alike). Default: download cats_and_dogs_filtered."
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
    others: Annotated[
        Path | None,
        typer.Option(
            help="Folders of non-pet photos (such as ../shared/data/others) to fit the regions "
            "on, so that pets that do not fill the frame are found (a second look at a part of "
            "the photo). Without it the model looks at whole photos only.",
        ),
    ] = None,
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
        from catsort.api import quiet_pillow_warnings

        quiet_pillow_warnings()
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
                    others=others,
                    figures=figures,
                    seed=seed,
                    tensorflow_logs=verbose,
                )
                result = training.train(config, say)
        except CatsortError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt as stop:  # Ctrl-C: what was lost and how to go on
            say(str(stop) or "Interrupted.")
            raise typer.Exit(130) from None
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
