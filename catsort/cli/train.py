"""catsort train: fine-tune MobileNetV2 and export it (the train extra: TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from catsort import CatsortError
from catsort.cli.common import Command, app, err_console, fail

# --- train -----------------------------------------------------------------------------------


@app.command(cls=Command)
def train(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder with train/ and validation/ class folders, or class folders to split. "
            "Default: download cats_and_dogs_filtered."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the model and its figures. Default: a new folder "
            "runs/<YYYYmmdd-HHMMSS>."
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
    """Fine-tune MobileNetV2 on class folders and export it to TensorFlow Lite."""
    if not verbose:
        from catsort.training.logs import quiet_tensorflow

        quiet_tensorflow()  # before TensorFlow is imported: its C++ logging reads the setting then
    try:
        from catsort.training.runs import new_run_folder
        from catsort.training.train import TrainConfig
        from catsort.training.train import train as run_training
    except ImportError as exc:
        # Escaped: "[train]" is not Rich markup (unescaped, the hint read pip install "catsort").
        err_console.print(
            f"[red]Error:[/red] training needs TensorFlow ({escape(str(exc.name))} is missing); "
            + escape('install it with: pip install "catsort[train]"'),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    try:
        config = TrainConfig(
            data=data,
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
        if ship not in ("int8", "float32"):
            raise CatsortError(f"--ship {ship}: use int8 or float32")
        from catsort.api import quiet_pillow_warnings

        quiet_pillow_warnings()
        result = run_training(
            config,
            # Not markup: the messages hold paths, such as "photos [best]".
            say=lambda message: err_console.print(
                message, highlight=False, markup=False, soft_wrap=True
            ),
        )
    except CatsortError as exc:
        raise fail(exc) from None
    _print_training_summary(result)


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

    from catsort.training.runs import chance_warning

    table = Table(title=Text(f"Exported {result.model_path}"))  # a Text: the path is not markup
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(
            key.replace("_", " "), f"{value:.4g}" if isinstance(value, float) else str(value)
        )
    err_console.print(table)
    warning = chance_warning(result.metrics, len(result.labels))
    if warning is not None:
        err_console.print(Text(warning, style="bold red"), soft_wrap=True)
