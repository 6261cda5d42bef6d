"""Benchmark `catsort classify` against the Keras baseline, end to end, on this machine.

Every measurement is a whole process, timed from launch to exit (imports, model loading,
reading, decoding, resizing, inference, writing the CSV), with its own peak memory (max RSS).

    python benchmarks/bench_classify.py                      # everything, 3 repeats
    python benchmarks/bench_classify.py --corpus a,single --repeats 5
    python benchmarks/bench_classify.py --markdown docs/performance.md

Corpora: a = ../shared/data/cats_and_dogs_filtered/validation (1000 photos, about 500x375);
b = generated 12-megapixel JPEGs; phone = a generated phone library (12 MP HEIC with and
without thumbnails, JPEG, DNG, screenshots, Live Photo pairs; catsort only: the baseline reads
none of HEIC or DNG); flat = 1,000 vs 10,000 small files (memory must not grow); single = one
12-megapixel photo (start-up; TensorFlow must not be imported). For a, b and phone the machine's
ceiling (decoding and the model per photo, over all cores; benchmarks/ceiling.py) is measured
and set beside catsort's rate. Generated photos are cached in the temporary directory (see
corpora.cache_root()).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

import corpora
from measure import cpu_busy, machine_facts
from suites import Program, flat, single, throughput, warm_up
from tables import CeilingRow, Check, Row, render, write_markdown

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "exported" / "catsort.json"
DEFAULT_WEIGHTS = REPO.parent / "shared" / "weights" / "mobilenet_v2_1.0_224_no_top.h5"
DEFAULT_VALIDATION = REPO.parent / "shared" / "data" / "cats_and_dogs_filtered" / "validation"
CORPORA = ("a", "b", "phone", "flat", "single")
BUSY = 0.15  # share of the CPU in use by others above which the figures are called noisy


def main() -> int:
    """Run the selected corpora, print the table and the targets; 1 if a target fails."""
    args = parse_args()
    model = Path(args.model)
    size, quantization = read_model(model)
    programs = make_programs(args, model, size)
    catsort = next(p for p in programs if not p.baseline)
    sources, tag = corpora.source_photos(
        args.validation if args.validation.is_dir() else None, REPO / "samples"
    )
    busy = cpu_busy()
    conditions = {
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "CPU in use by others at start": _percent(busy),
        "model": f"{model} ({quantization}, {size[0]}x{size[1]})",
        "repeats": str(args.repeats),
        "catsort options": catsort_options(args) or "defaults",
    }
    if busy is not None and busy > BUSY:
        print(
            f"Note: {busy:.0%} of the CPU was in use before starting; the figures will be "
            "noisy. Final figures need an otherwise idle machine."
        )

    rows: list[Row] = []
    checks: list[Check] = []
    ceilings: list[CeilingRow] = []
    with tempfile.TemporaryDirectory(prefix="catsort-bench-") as scratch:
        work = Path(scratch)
        warm_up(programs, corpora.small_files(1, sources, tag), work)
        runs = []  # (key, label, folder, programs) of the throughput corpora chosen
        if "a" in args.corpus:
            if args.validation.is_dir():
                runs.append(("a", "a: validation photos", args.validation, programs))
            else:
                print(f"Skipping corpus a: {args.validation} not found (needs ../shared).")
        if "b" in args.corpus:
            folder = corpora.big_photos(args.big_count, sources, tag)
            runs.append(("b", "b: 12 MP photos", folder, programs))
        if "phone" in args.corpus:
            folder = corpora.phone_photos(args.phone_count, sources, tag)
            runs.append(("phone", "phone library", folder, [p for p in programs if not p.baseline]))
        for key, label, folder, chosen in runs:
            throughput(
                key, label, folder, chosen, args.repeats, work, rows, checks, ceilings, model
            )
        if "flat" in args.corpus:
            flat(catsort, args.flat_counts, sources, tag, work, rows, checks)
        if "single" in args.corpus:
            photo = corpora.image_files(corpora.big_photos(1, sources, tag))[0]
            single(catsort, photo, max(5, args.repeats), work, rows, checks)
    conditions["CPU in use by others at end"] = _percent(cpu_busy())

    text = render(rows, checks, machine_facts(), conditions, ceilings)
    print()
    print(text)
    if args.markdown:
        write_markdown(Path(args.markdown), text)
        print(f"Wrote the results into {args.markdown}")
    return 1 if any(check.passed is False for check in checks) else 0


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{share:.0%}"


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus",
        default=",".join(CORPORA),
        help=f"comma-separated, from {','.join(CORPORA)} (default: all)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per program (median)")
    parser.add_argument(
        "--model",
        default=str(DEFAULT_MODEL),
        help="catsort model: folder, metadata .json or .tflite (default: exported/catsort.json)",
    )
    parser.add_argument(
        "--variant",
        default=None,
        help="second model to compare (default: catsort-float32.json beside an "
        "int8 model, or catsort.json beside a float32 one; 'none' to skip)",
    )
    parser.add_argument(
        "--weights",
        default=str(DEFAULT_WEIGHTS),
        help="MobileNetV2 no-top .h5 for the baseline (or 'imagenet')",
    )
    parser.add_argument(
        "--validation", type=Path, default=DEFAULT_VALIDATION, help="corpus a folder"
    )
    parser.add_argument("--big-count", type=int, default=100, help="12 MP photos in corpus b")
    parser.add_argument(
        "--phone-count", type=int, default=10, help="files of each kind in the phone corpus"
    )
    parser.add_argument(
        "--flat-counts", default="1000,10000", help="two file counts for the memory check"
    )
    parser.add_argument("--threads", type=int, default=None, help="passed to catsort --threads")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="passed to catsort --batch-size"
    )
    parser.add_argument("--no-baseline", action="store_true", help="time catsort only")
    parser.add_argument(
        "--markdown",
        default=None,
        metavar="PATH",
        help="write the results between the bench markers of this file "
        "(docs/performance.md), or into a new file",
    )
    args = parser.parse_args()
    args.corpus = [c.strip() for c in args.corpus.split(",") if c.strip()]
    unknown = set(args.corpus) - set(CORPORA)
    if unknown:
        parser.error(f"unknown corpus {', '.join(sorted(unknown))}; choose from {CORPORA}")
    counts = [int(c) for c in args.flat_counts.split(",")]
    if len(counts) != 2 or min(counts) < 1:
        parser.error("--flat-counts takes two positive counts, e.g. 1000,10000")
    args.flat_counts = sorted(counts)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def metadata_file(path: Path) -> Path:
    """The metadata .json of a model given as a folder, a .json or a .tflite."""
    if path.is_dir():
        return path / "catsort.json"
    return path.with_suffix(".json")


def read_model(path: Path) -> tuple[tuple[int, int], str]:
    """The input size (height, width) and quantization from a model's metadata."""
    try:
        data = json.loads(metadata_file(path).read_text(encoding="utf-8"))
        size = (int(data["input"]["height"]), int(data["input"]["width"]))
    except FileNotFoundError:
        sys.exit(
            f"{metadata_file(path)}: model metadata not found; train a model or pass --model PATH"
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"{metadata_file(path)}: not a catsort model metadata file ({exc})")
    return size, str(data.get("quantization", "float32"))


def make_programs(args: argparse.Namespace, model: Path, size: tuple[int, int]) -> list[Program]:
    """The baseline (unless skipped or impossible), then catsort with each model."""
    programs = []
    if args.no_baseline:
        pass
    elif find_spec("keras") is None:
        print("Skipping the baseline: Keras is not installed (pip install 'catsort[train]').")
    elif args.weights != "imagenet" and not Path(args.weights).is_file():
        print(f"Skipping the baseline: weights {args.weights} not found (pass --weights).")
    else:
        script = str(Path(__file__).with_name("keras_baseline.py"))
        programs.append(
            Program(
                "Keras baseline",
                [sys.executable, script],
                ["--size", str(size[0]), str(size[1]), "--weights", args.weights],
                baseline=True,
            )
        )
    catsort = [sys.executable, "-m", "catsort", "classify"]
    variant = (
        find_variant(model)
        if args.variant is None
        else (None if args.variant == "none" else Path(args.variant))
    )
    for path in [model] + ([variant] if variant is not None else []):
        _, kind = read_model(path)
        name = f"catsort {kind}"
        if any(p.name == name for p in programs):
            name += f" ({path.name})"
        options = ["--model", str(path), *catsort_options(args).split()]
        programs.append(Program(name, catsort, options))
    return programs


def catsort_options(args: argparse.Namespace) -> str:
    """The classify options given to the benchmark to pass on."""
    # Every repeat classifies again: the results cache would answer repeats 2 and 3 from
    # SQLite (bench_cache.py measures that).
    options = ["--no-cache"]
    if args.threads:
        options += ["--threads", str(args.threads)]
    if args.batch_size:
        options += ["--batch-size", str(args.batch_size)]
    return " ".join(options)


def find_variant(model: Path) -> Path | None:
    """The other exported variant beside the model, if there is one."""
    _, quantization = read_model(model)
    other = "catsort-float32.json" if quantization != "float32" else "catsort.json"
    candidate = metadata_file(model).with_name(other)
    if candidate.is_file() and candidate.resolve() != metadata_file(model).resolve():
        return candidate
    return None


if __name__ == "__main__":
    sys.exit(main())
