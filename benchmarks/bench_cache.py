"""Benchmark the results cache: a second `catsort classify` of the same unchanged folder against
the first, and what keeping the cache costs the first run, each as a whole process.

    python benchmarks/bench_cache.py                          # 10,000 small photos, 3 repeats
    python benchmarks/bench_cache.py --count 2000 --repeats 5
    python benchmarks/bench_cache.py --markdown docs/performance.md

Each repeat, in a fresh user cache folder (XDG_CACHE_HOME): the first run (an empty cache, which
it fills), the second run (the same command again: every photo from the cache) and a run with
--no-cache, the first and the no-cache run taking turns at going first. The figures pair the
runs of one repeat. The photos are hard links to a hundred real ones (benchmarks/corpora.py),
read once beforehand so that every run finds them in the page cache. No baseline, no TensorFlow.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import corpora
from measure import Run, cpu_busy, machine_facts, median, run_measured
from suites import check_output
from tables import Check, markdown_table

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "exported" / "catsort.json"
DEFAULT_VALIDATION = REPO.parent / "shared" / "data" / "cats_and_dogs_filtered" / "validation"
SPEEDUP_TARGET = 20.0  # the second run at least this many times faster than the first
COST_TARGET = 0.05  # the first run with the cache at most this much slower than without
BEGIN = "<!-- bench-cache:begin -->"
END = "<!-- bench-cache:end -->"
KINDS = ("first", "second", "no-cache")


def main() -> int:
    """Run the repeats, print the table and the targets; 1 if a target fails."""
    args = parse_args()
    sources, tag = corpora.source_photos(
        args.validation if args.validation.is_dir() else None, REPO / "samples"
    )
    folder = corpora.small_files(args.count, sources, tag)
    corpora.read_all(folder)
    busy = cpu_busy()
    conditions = {
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "CPU in use by others at start": "unknown" if busy is None else f"{busy:.0%}",
        "model": str(args.model),
        "photos": f"{args.count:,} ({tag}, hard links to {corpora.SMALL_SOURCES})",
        "repeats": str(args.repeats),
    }
    runs: dict[str, list[Run]] = {kind: [] for kind in KINDS}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="catsort-bench-cache-") as scratch:
        work = Path(scratch)
        for repeat in range(args.repeats):
            os.environ["XDG_CACHE_HOME"] = str(work / f"cache-{repeat}")  # a fresh cache
            order = ("first", "second", "no-cache")
            if repeat % 2 == 0:
                order = ("no-cache", "first", "second")
            for kind in order:
                run, problem = measure(args, folder, work / f"{kind}.csv", kind)
                print(
                    f"  #{repeat + 1} {kind}: {run.seconds:.2f} s (CPU {run.cpu_seconds:.1f} s), "
                    f"{run.peak_rss_mb:.0f} MB{'  ' + problem if problem else ''}"
                )
                if problem:
                    problems.append(f"#{repeat + 1} {kind}: {problem}")
                runs[kind].append(run)
    conditions["CPU in use by others at end"] = (
        "unknown" if (busy := cpu_busy()) is None else f"{busy:.0%}"
    )
    text = render(args.count, runs, problems, machine_facts(), conditions)
    print()
    print(text)
    if args.markdown:
        write_markdown(Path(args.markdown), text)
        print(f"Wrote the results into {args.markdown}")
    speedup, cost = figures(runs)
    return 0 if not problems and speedup >= SPEEDUP_TARGET and cost <= COST_TARGET else 1


def measure(args: argparse.Namespace, folder: Path, out: Path, kind: str) -> tuple[Run, str]:
    """One measured `catsort classify FOLDER --csv OUT`; why it does not count ('' if it does)."""
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "catsort", "classify", str(folder), "--csv", str(out)]
    command += ["--quiet", "--model", str(args.model)]
    if kind == "no-cache":
        command.append("--no-cache")
    run = run_measured(command, cwd=REPO)
    problem = check_output(run, out, args.count, baseline=False)
    if not problem:
        with open(out, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            cached = sum(row.get("cached") == "yes" for row in csv.DictReader(handle))
        expected = args.count if kind == "second" else 0
        if cached != expected:
            problem = f"FAILED: {cached} rows from the cache, expected {expected}"
    return run, problem


def figures(runs: dict[str, list[Run]]) -> tuple[float, float]:
    """(second-run speed-up, first-run cost of the cache), medians of the paired repeats."""
    speedup = median([f.seconds / s.seconds for f, s in zip(runs["first"], runs["second"])])
    cost = median([f.seconds / n.seconds - 1 for f, n in zip(runs["first"], runs["no-cache"])])
    return speedup, cost


def render(
    count: int,
    runs: dict[str, list[Run]],
    problems: list[str],
    machine: dict[str, str],
    conditions: dict[str, str],
) -> str:
    """The results as Markdown: machine, conditions, the table of runs, and the targets."""
    names = {
        "first": "first run (empty cache, fills it)",
        "second": "second run (unchanged photos)",
        "no-cache": "first run with --no-cache",
    }
    table = [
        ["Run", "Photos", "Runs", "Median time", "Photos/s", "CPU time", "Each run", "Peak RSS"]
    ]
    for kind in KINDS:
        seconds = median([r.seconds for r in runs[kind]])
        table.append(
            [
                names[kind],
                f"{count:,}",
                str(len(runs[kind])),
                f"{seconds:.2f} s",
                f"{count / seconds:.1f}",
                f"{median([r.cpu_seconds for r in runs[kind]]):.1f} s",
                ", ".join(f"{r.seconds:.2f}" for r in runs[kind]),
                f"{max(r.peak_rss_mb for r in runs[kind]):.0f} MB",
            ]
        )
    speedup, cost = figures(runs)
    each_speedup = [f.seconds / s.seconds for f, s in zip(runs["first"], runs["second"])]
    each_cost = [f.seconds / n.seconds - 1 for f, n in zip(runs["first"], runs["no-cache"])]
    cpu_cost = median(
        [f.cpu_seconds / n.cpu_seconds - 1 for f, n in zip(runs["first"], runs["no-cache"])]
    )
    cpu_speedup = median(
        [f.cpu_seconds / s.cpu_seconds for f, s in zip(runs["first"], runs["second"])]
    )
    valid = not problems
    checks = [
        Check(
            f"second run >= {SPEEDUP_TARGET:.0f}x faster than the first",
            f"{speedup:.1f}x (each repeat: {', '.join(f'{x:.1f}' for x in each_speedup)}; "
            f"CPU time {cpu_speedup:.1f}x)"
            if valid
            else "a run failed",
            valid and speedup >= SPEEDUP_TARGET,
        ),
        Check(
            f"the cache's cost on a first run < {COST_TARGET:.0%}",
            f"{cost:+.1%} (each repeat: {', '.join(f'{x:+.1%}' for x in each_cost)}; "
            f"CPU time {cpu_cost:+.1%})"
            if valid
            else "a run failed",
            valid and cost <= COST_TARGET,
        ),
    ]
    lines = [
        "**Machine:** " + "; ".join(f"{k} {v}" for k, v in machine.items()),
        "",
        "**Run:** " + "; ".join(f"{k}: {v}" for k, v in conditions.items()),
        "",
        *markdown_table(table, right=range(1, 8)),
        "",
        "Whole processes, launch to exit; medians over the repeats. The ratios pair the runs "
        "of each repeat.",
        "",
        *markdown_table(
            [["Target", "Measured", "Result"]]
            + [[c.target, c.measured, c.verdict] for c in checks],
            right=(),
        ),
    ]
    lines += [f"- {problem}" for problem in problems]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, text: str) -> None:
    """Put the results between the bench-cache markers of ``path``."""
    old = path.read_text(encoding="utf-8")
    start, end = old.find(BEGIN), old.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} markers; not overwriting it")
    path.write_text(old[:start] + f"{BEGIN}\n{text}{END}" + old[end + len(END) :], "utf-8")


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000, help="photos in the folder")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (median)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="catsort model")
    parser.add_argument(
        "--validation", type=Path, default=DEFAULT_VALIDATION, help="where the photos come from"
    )
    parser.add_argument(
        "--markdown", metavar="PATH", help="write the results between the bench-cache markers"
    )
    args = parser.parse_args()
    if args.count < 1 or args.repeats < 1:
        parser.error("--count and --repeats must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main())
