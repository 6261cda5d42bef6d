"""Benchmark `catsort classify` against the Keras baseline, end to end, on this machine.

Every measurement is a whole process, timed from launch to exit (imports, model loading,
reading, decoding, resizing, inference, writing the CSV), with its own peak memory (max RSS).

    python benchmarks/bench_classify.py                      # everything, 3 repeats
    python benchmarks/bench_classify.py --corpus a,single --repeats 5
    python benchmarks/bench_classify.py --markdown docs/performance.md

Corpora: a = ../shared/data/cats_and_dogs_filtered/validation (1000 photos, about 500x375);
b = generated 12-megapixel JPEGs; flat = 1,000 vs 10,000 small files (memory must not grow);
single = one 12-megapixel photo (start-up; TensorFlow must not be imported).
Generated photos are cached in the temporary directory (see corpora.cache_root()).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import corpora
from measure import Run, load_average, machine_facts, median, run_measured
from tables import Check, Row, render, write_markdown

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "exported" / "catsort.json"
DEFAULT_WEIGHTS = REPO.parent / "shared" / "weights" / "mobilenet_v2_1.0_224_no_top.h5"
DEFAULT_VALIDATION = REPO.parent / "shared" / "data" / "cats_and_dogs_filtered" / "validation"
CORPORA = ("a", "b", "flat", "single")

RATIO_TARGETS = {"a": 5.0, "b": 4.5}
SINGLE_TARGET_S = 1.0
RSS_TARGET_MB = 400.0
FLAT_TOLERANCE = 1.10  # peak RSS at the larger count / at the smaller count
HEAVY_MODULES = {"tensorflow", "keras", "tf_keras"}


@dataclass
class Program:
    """A command that classifies a folder into a CSV: the baseline or catsort with one model."""

    name: str
    base: list[str]
    options: list[str] = field(default_factory=list)
    baseline: bool = False

    def command(self, target: Path, csv_path: Path) -> list[str]:
        """The full command line for one run."""
        if self.baseline:
            return [*self.base, str(target), "--csv", str(csv_path), *self.options]
        return [*self.base, str(target), "--csv", str(csv_path), "--quiet", *self.options]


def main() -> int:
    """Run the selected corpora, print the table and the targets; 1 if a target fails."""
    args = parse_args()
    model = Path(args.model)
    size, quantization = read_model(model)
    programs = make_programs(args, model, size, quantization)
    sources, tag = corpora.source_photos(args.validation if args.validation.is_dir() else None,
                                         REPO / "samples")
    conditions = {
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load average at start": f"{load_average() or 0:.2f}",
        "model": f"{model} ({quantization}, {size[0]}x{size[1]})",
        "repeats": str(args.repeats),
        "catsort options": " ".join(programs[-1].options[2:]) or "defaults",
    }
    load = load_average()
    if load is not None and load > 0.5 * (os.cpu_count() or 1):
        print(f"Note: load average {load:.1f} before starting; the machine is busy and the "
              "figures will be noisy. Final figures need an otherwise idle machine.")

    rows: list[Row] = []
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="catsort-bench-") as scratch:
        work = Path(scratch)
        warm_up(programs, corpora.small_files(1, sources, tag), work)
        if "a" in args.corpus:
            if args.validation.is_dir():
                throughput("a", f"a: validation ({args.validation.name}/)", args.validation,
                           programs, args.repeats, work, rows, checks)
            else:
                print(f"Skipping corpus a: {args.validation} not found (needs ../shared).")
        if "b" in args.corpus:
            folder = corpora.big_photos(args.big_count, sources, tag)
            throughput("b", "b: 12 MP photos", folder, programs, args.repeats, work, rows, checks)
        catsort = next(p for p in programs if not p.baseline)
        if "flat" in args.corpus:
            flat(catsort, args.flat_counts, sources, tag, work, rows, checks)
        if "single" in args.corpus:
            photo = corpora.image_files(corpora.big_photos(1, sources, tag))[0]
            single(catsort, photo, max(5, args.repeats), work, rows, checks)
    conditions["load average at end"] = f"{load_average() or 0:.2f}"

    text = render(rows, checks, machine_facts(), conditions)
    print()
    print(text)
    if args.markdown:
        write_markdown(Path(args.markdown), text)
        print(f"Wrote the results into {args.markdown}")
    return 1 if any(check.passed is False for check in checks) else 0


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=",".join(CORPORA),
                        help=f"comma-separated, from {','.join(CORPORA)} (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per program (median)")
    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="catsort model metadata .json (default: exported/catsort.json)")
    parser.add_argument("--variant", default=None,
                        help="second model to compare (default: catsort-float32.json beside an "
                        "int8 model, or catsort.json beside a float32 one; 'none' to skip)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS),
                        help="MobileNetV2 no-top .h5 for the baseline (or 'imagenet')")
    parser.add_argument("--validation", type=Path, default=DEFAULT_VALIDATION,
                        help="corpus a folder")
    parser.add_argument("--big-count", type=int, default=100, help="12 MP photos in corpus b")
    parser.add_argument("--flat-counts", default="1000,10000",
                        help="two file counts for the memory check")
    parser.add_argument("--threads", type=int, default=None, help="passed to catsort --threads")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="passed to catsort --batch-size")
    parser.add_argument("--no-baseline", action="store_true", help="time catsort only")
    parser.add_argument("--markdown", default=None, metavar="PATH",
                        help="write the results between the bench markers of this file "
                        "(docs/performance.md), or into a new file")
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


def read_model(path: Path) -> tuple[tuple[int, int], str]:
    """The input size (height, width) and quantization from a model's metadata."""
    if not path.is_file():
        sys.exit(f"{path}: model metadata not found; train one or pass --model PATH.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return (int(data["input"]["height"]), int(data["input"]["width"])), data.get(
        "quantization", "float32")


def make_programs(args: argparse.Namespace, model: Path, size: tuple[int, int],
                  quantization: str) -> list[Program]:
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
        programs.append(Program("Keras baseline", [sys.executable, script],
                                ["--size", str(size[0]), str(size[1]), "--weights", args.weights],
                                baseline=True))
    options = []
    if args.threads:
        options += ["--threads", str(args.threads)]
    if args.batch_size:
        options += ["--batch-size", str(args.batch_size)]
    catsort = [sys.executable, "-m", "catsort", "classify"]
    variant = find_variant(model, quantization) if args.variant is None else (
        None if args.variant == "none" else Path(args.variant))
    for path in [model] + ([variant] if variant is not None else []):
        _, kind = read_model(path)
        programs.append(Program(f"catsort {kind}", catsort, ["--model", str(path), *options]))
    return programs


def find_variant(model: Path, quantization: str) -> Path | None:
    """The other exported variant beside the model, if there is one."""
    other = "catsort-float32.json" if quantization != "float32" else "catsort.json"
    candidate = model.with_name(other)
    return candidate if candidate.is_file() and candidate.resolve() != model.resolve() else None


def warm_up(programs: list[Program], folder: Path, work: Path) -> None:
    """One untimed run of each program on one photo: bytecode caches and libraries warm."""
    print("Warming up (one photo per program) ...")
    for program in programs:
        run = run_measured(program.command(folder, work / "warm.csv"), cwd=REPO)
        if run.exit_code != 0:
            sys.exit(f"{program.name} failed on one photo (exit {run.exit_code}):\n"
                     f"{run.stderr_tail}")


def throughput(key: str, label: str, folder: Path, programs: list[Program], repeats: int,
               work: Path, rows: list[Row], checks: list[Check]) -> None:
    """Time every program on the folder, interleaved, and check catsort's ratio to the baseline."""
    images = len(corpora.image_files(folder))
    megabytes = corpora.read_all(folder) / 1e6
    label = f"{label}, {images} files, {megabytes / images:.2f} MB each"
    runs: dict[str, list[Run]] = {p.name: [] for p in programs}
    failed: set[str] = set()
    for repeat in range(repeats):
        for program in programs:  # interleaved, so drift in the machine's load hits all alike
            out = work / f"{key}.csv"
            run = run_measured(program.command(folder, out), cwd=REPO)
            problem = check_output(run, out, images, program.baseline)
            print(f"  {key} #{repeat + 1} {program.name}: {run.seconds:.1f} s, "
                  f"{run.peak_rss_mb:.0f} MB{'  ' + problem if problem else ''}")
            if problem:
                print(run.stderr_tail)
                failed.add(program.name)
            runs[program.name].append(run)
    baseline = catsort = None
    for program in programs:  # the baseline comes first, then the shipped model
        row = Row.of(label, program.name, images, runs[program.name], baseline,
                     failed=program.name in failed)
        if program.baseline:
            baseline = row
        elif catsort is None:
            catsort = row
        rows.append(row)
    assert catsort is not None
    target = RATIO_TARGETS[key]
    if baseline is None:
        checks.append(Check(f"{key}: catsort >= {target}x the baseline's images/s", "no baseline",
                            None))
    else:
        ratio = catsort.per_second / baseline.per_second
        valid = not (catsort.failed or baseline.failed)
        checks.append(Check(f"{key}: {catsort.program} >= {target}x the baseline's images/s",
                            f"{ratio:.2f}x" if valid else "a run failed",
                            ratio >= target and valid))


def flat(catsort: Program, counts: list[int], sources: list[Path], tag: str, work: Path,
         rows: list[Row], checks: list[Check]) -> None:
    """Peak memory of one catsort run per file count: it must stay low and not grow."""
    peaks = []
    for count in counts:
        folder = corpora.small_files(count, sources, tag)
        corpora.read_all(folder)
        out = work / "flat.csv"
        run = run_measured(catsort.command(folder, out), cwd=REPO)
        problem = check_output(run, out, count, baseline=False)
        print(f"  flat {count} {catsort.name}: {run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB"
              f"{'  ' + problem if problem else ''}")
        rows.append(Row.of(f"flat: {count:,} small files", catsort.name, count, [run],
                           failed=bool(problem)))
        peaks.append(run.peak_rss_mb)
    checks.append(Check(f"peak RSS < {RSS_TARGET_MB:.0f} MB at {counts[1]:,} files",
                        f"{peaks[1]:.0f} MB", peaks[1] < RSS_TARGET_MB))
    ratio = peaks[1] / peaks[0]
    checks.append(Check(f"peak RSS flat: {counts[1]:,} vs {counts[0]:,} files <= "
                        f"{FLAT_TOLERANCE:.2f}x", f"{peaks[0]:.0f} -> {peaks[1]:.0f} MB, "
                        f"{ratio:.2f}x", ratio <= FLAT_TOLERANCE))


def single(catsort: Program, photo: Path, repeats: int, work: Path, rows: list[Row],
           checks: list[Check]) -> None:
    """Wall time for one photo, and the proof that this path imports no TensorFlow."""
    out = work / "single.csv"
    runs, failed = [], False
    for _ in range(repeats):
        run = run_measured(catsort.command(photo, out), cwd=REPO)
        problem = check_output(run, out, 1, baseline=False)
        if problem:
            print(f"  single: {problem}\n{run.stderr_tail}")
            failed = True
        runs.append(run)
    print(f"  single {catsort.name}: " + ", ".join(f"{r.seconds:.2f}" for r in runs) + " s")
    rows.append(Row.of("single: one 12 MP photo", catsort.name, 1, runs, failed=failed))
    seconds = median([r.seconds for r in runs])
    checks.append(Check(f"single photo < {SINGLE_TARGET_S:.1f} s", f"{seconds:.2f} s",
                        seconds < SINGLE_TARGET_S))
    heavy = heavy_imports([catsort.base[0], "-X", "importtime", *catsort.command(photo, out)[1:]])
    checks.append(Check("single photo imports no TensorFlow/Keras",
                        "none imported" if not heavy else ", ".join(sorted(heavy)), not heavy))


def heavy_imports(command: list[str]) -> set[str]:
    """The heavy top-level modules a command imports (from python -X importtime)."""
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0]
             for line in done.stderr.splitlines() if line.startswith("import time:")}
    return names & HEAVY_MODULES


def check_output(run: Run, out: Path, images: int, baseline: bool) -> str:
    """Why a run does not count ('' when it classified every image)."""
    if run.exit_code != 0:
        return f"FAILED: exit code {run.exit_code}"
    try:
        with open(out, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        return f"FAILED: no CSV ({exc})"
    done = len(rows) if baseline else sum(row.get("status") == "ok" for row in rows)
    return "" if done == images else f"FAILED: {done} of {images} images classified"


if __name__ == "__main__":
    sys.exit(main())
