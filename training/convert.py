"""Export a trained model again, without training again: ``python -m catsort.training.convert RUN``.

RUN is the output folder of ``catsort train`` (it holds ``model.keras`` and ``catsort.json``).
The new export goes to a new ``runs/<YYYYmmdd-HHMMSS>/`` folder unless ``--output`` says where;
a folder that already holds a model (RUN itself among them) needs ``--overwrite``.
The same data splits are rebuilt from the settings in the metadata and checked against its data
fingerprint; then the pet gate is fitted and both TFLite variants are written and checked, as at
the end of training. Useful after a change to the export or the gate. ``--gate mahalanobis`` runs
the original MobileNetV2's upper layers as a second branch: their weights come from ``--weights``
(default: those the run started from, as its metadata names them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

import keras

from catsort.errors import CatsortError

from . import data as datasets
from . import runs
from .gate import GATE_KINDS
from .train import TrainConfig, decode_splits, export_trained, test_predictions_figure

#: Files of a run that stay valid when only the export changes.
CARRIED_OVER = ("history.json", "learning_curves.png", "training_photos.jpg", "augmentation.jpg")


def convert_run(
    run: Path,
    output: Path,
    data: Path | None = None,
    ship: str | None = None,
    with_gate: bool = True,
    overwrite: bool = False,
    weights: str | None = None,
    gate_kind: str | None = None,
    others: Path | None = None,
    float_layers: tuple[str, ...] | None = None,
) -> dict:
    """Export RUN's model.keras into ``output``; return the shipped variant's metrics.

    ``output`` may not hold a model already (RUN itself does) unless ``overwrite`` is given.
    ``float_layers``: the MobileNetV2 layers (name prefixes) kept float32 in the int8 model;
    default: the run's own.
    """
    metadata_path = run / "catsort.json"
    if not (run / "model.keras").is_file() or not metadata_path.is_file():
        raise CatsortError(f"{run}: needs model.keras and catsort.json from a catsort train run")
    runs.check_output(output, overwrite)
    info = json.loads(metadata_path.read_text())  # settings and data sit beside classify's keys
    known = {f.name for f in fields(TrainConfig)}
    settings = {k: v for k, v in info["training"].items() if k in known}
    recorded = info["data"].get("roots") or [info["data"]["root"]]
    roots = [Path(data)] if data is not None else [Path(root) for root in recorded]
    config = TrainConfig(
        **{
            **settings,
            "data": roots,
            "output": output,
            "ship": ship or settings.get("ship", "int8"),
            "weights": settings.get("weights") if weights is None else _weights(weights),
            "gate": gate_kind or settings.get("gate", TrainConfig.gate),
            "others": others if others is not None else settings.get("others"),
            "float_layers": tuple(
                settings.get("float_layers", TrainConfig.float_layers)
                if float_layers is None
                else float_layers
            ),
        }
    )
    files = datasets.list_files(roots, config.val_split, config.test_fraction, config.seed)
    if datasets.fingerprint(files.all(), roots) != info["data"]["fingerprint"]:
        where = ", ".join(map(str, roots))
        raise CatsortError(f"{where}: not the data {run} was trained on (fingerprint differs)")
    labels = datasets.default_labels(files.class_dirs, config.labels)
    model = keras.models.load_model(run / "model.keras")
    keep = {k: info[k] for k in ("training", "parameters", "data") if k in info}
    keep["training"] = {**keep.get("training", {}), "float_layers": list(config.float_layers)}
    if config.others is not None:  # what the regions were fitted on, as a run records it
        keep["training"] = {**keep.get("training", {}), "others": str(config.others)}
    again = f"python -m catsort.training.convert {run} --ship float32 --output {output}"
    with tempfile.TemporaryDirectory(prefix="catsort-convert-") as scratch:
        splits = decode_splits(files, (config.img_size, config.img_size), roots, Path(scratch))
        metrics = export_trained(
            model, labels, splits, config, keep, with_gate=with_gate, float_remedy=again
        )
        if output.resolve() != run.resolve():
            for name in CARRIED_OVER:
                if (run / name).is_file():
                    shutil.copy2(run / name, output / name)
        test_predictions_figure(output, splits[2], labels)
    return metrics


def _float_layers(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.lower() == "none":
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _weights(value: str) -> str | None:
    return None if value.lower() == "none" else value


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="output folder of a catsort train run")
    parser.add_argument(
        "--output", type=Path, default=None, help="default: a new runs/<YYYYmmdd-HHMMSS> folder"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that already holds a model (such as RUN itself)",
    )
    parser.add_argument("--data", type=Path, default=None, help="default: the run's data folder")
    parser.add_argument("--ship", choices=("int8", "float32"), default=None)
    parser.add_argument(
        "--weights",
        default=None,
        help="MobileNetV2 no-top .h5 file, 'imagenet' or 'none', for the gate's original branch; "
        "default: the weights the run started from",
    )
    parser.add_argument(
        "--gate",
        choices=GATE_KINDS,
        default=None,
        help="knn (on the fine-tuned features) or mahalanobis (on the original ones, a second "
        "branch); default: the run's own",
    )
    parser.add_argument(
        "--no-gate", action="store_true", help="leave the pet gate out (to measure what it costs)"
    )
    parser.add_argument(
        "--others",
        type=Path,
        default=None,
        help="folders of non-pet photos (../shared/data/others) to fit the regions on, for pets "
        "that do not fill the frame; default: the run's own, if any",
    )
    parser.add_argument(
        "--float-layers",
        default=None,
        metavar="PREFIXES",
        help="MobileNetV2 layers kept float32 in the int8 model: comma-separated name prefixes "
        "(Conv1,bn_Conv1), or 'none' for an all-int8 network; default: the run's own (the "
        "stem, training/export.py FLOAT_LAYERS)",
    )
    args = parser.parse_args()
    try:
        metrics = convert_run(
            args.run,
            args.output or runs.new_run_folder(),
            args.data,
            args.ship,
            with_gate=not args.no_gate,
            overwrite=args.overwrite,
            weights=args.weights,
            gate_kind=args.gate,
            others=args.others,
            float_layers=_float_layers(args.float_layers),
        )
    except CatsortError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
