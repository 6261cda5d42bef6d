"""The measurements: throughput against the baseline and the ceiling, memory, start-up.

Each appends rows for the table and checks against the targets of issues 5 and 27.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import corpora
from ceiling import Ceiling, Costs, measure_costs, sample
from measure import Run, median, run_measured
from tables import CeilingRow, Check, Row

REPO = Path(__file__).resolve().parent.parent
# Issue 27: the Keras baseline got faster with TensorFlow 2.21 (issue 5 asked 5.0x and 4.5x).
RATIO_TARGETS = {"a": 4.0, "b": 4.0}
#: Issue 27: catsort's rate after start-up at least this share of the machine's ceiling.
CEILING_TARGETS = {"a": 0.95}
#: Photos the ceiling's per-photo costs are measured on.
CEILING_SAMPLE = 200
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


def warm_up(programs: list[Program], folder: Path, work: Path) -> None:
    """One untimed run of each program on one photo: bytecode caches and libraries warm."""
    print("Warming up (one photo per program) ...")
    for program in programs:
        run, problem = measure(program, folder, work / "warm.csv", 1)
        if problem:
            sys.exit(f"{program.name} failed on one photo: {problem}\n{run.stderr_tail}")


def throughput(
    key: str,
    label: str,
    folder: Path,
    programs: list[Program],
    repeats: int,
    work: Path,
    rows: list[Row],
    checks: list[Check],
    ceilings: list[CeilingRow] | None = None,
    model: Path | None = None,
) -> None:
    """Time every program on the folder, interleaved, and check catsort's ratio to the baseline.

    With ``ceilings`` and ``model``, the machine's ceiling for the folder's photos (ceiling.py)
    is measured in every repeat before the programs, each catsort program is also timed on one
    of its photos (its start-up), and catsort's rate after start-up is set beside the ceiling
    of the same repeat.
    """
    files = corpora.image_files(folder)
    images = len(files)
    each = corpora.read_all(folder) / images
    label += f", {each / 1e6:.1f} MB each" if each >= 1e6 else f", {each / 1e3:.0f} kB each"
    ceiling = costs = None
    one = work / f"{key}-one"
    if ceilings is not None and model is not None:
        photos = sample(files, CEILING_SAMPLE)
        costs = measure_costs(photos, model)
        print(
            f"  {key}: decode {costs.decode_ms:.2f} ms + model {costs.model_ms:.2f} ms of CPU "
            "a photo on one thread"
        )
        ceiling = Ceiling(photos, model)
        one.mkdir(exist_ok=True)
        first = files[0]
        (one / first.name).write_bytes(first.read_bytes())
    peaks: list[float] = []
    runs: dict[str, list[Run]] = {p.name: [] for p in programs}
    starts: dict[str, list[Run]] = {p.name: [] for p in programs if not p.baseline}
    failed: set[str] = set()
    for repeat in range(repeats):
        if ceiling is not None:
            peaks.append(ceiling.run())
            print(f"  {key} #{repeat + 1} ceiling: {peaks[-1]:.1f} photos/s")
        for program in programs:  # interleaved, so drift in the machine's load hits all alike
            run, problem = measure(program, folder, work / f"{key}.csv", images)
            print(
                f"  {key} #{repeat + 1} {program.name}: {run.seconds:.1f} s (CPU "
                f"{run.cpu_seconds:.1f} s), {run.peak_rss_mb:.0f} MB"
                f"{'  ' + problem if problem else ''}"
            )
            if problem:
                print(run.stderr_tail)
                failed.add(program.name)
            runs[program.name].append(run)
            if ceiling is not None and not program.baseline:
                start, problem = measure(program, one, work / f"{key}-one.csv", 1)
                if problem:
                    print(f"  {key} one photo, {program.name}: {problem}\n{start.stderr_tail}")
                    failed.add(program.name)
                starts[program.name].append(start)
    baseline = next((p for p in programs if p.baseline), None)
    base_runs = None if baseline is None else runs[baseline.name]
    for program in programs:  # the baseline first, then the shipped model, then the variant
        rows.append(
            Row.of(
                label,
                program.name,
                images,
                runs[program.name],
                None if program.baseline else base_runs,
                failed=program.name in failed,
            )
        )
    if ceiling is not None and costs is not None and ceilings is not None:
        _ceiling_rows(label, images, costs, peaks, programs, runs, starts, failed, ceilings)
        _ceiling_check(key, ceilings[-len(starts) :] if starts else [], checks)
    target = RATIO_TARGETS.get(key)
    if target is None:
        return
    catsort = next((row for row in rows[-len(programs) :] if row.vs_baseline is not None), None)
    if catsort is None:
        checks.append(
            Check(f"{key}: catsort >= {target}x the baseline's images/s", "no baseline", None)
        )
    else:
        assert catsort.vs_baseline is not None and catsort.cpu_vs_baseline is not None
        valid = not (catsort.failed or failed & {p.name for p in programs if p.baseline})
        checks.append(
            Check(
                f"{key}: {catsort.program} >= {target}x the baseline's images/s",
                f"{catsort.vs_baseline:.2f}x (CPU time {catsort.cpu_vs_baseline:.2f}x)"
                if valid
                else "a run failed",
                valid and catsort.vs_baseline >= target,
            )
        )


def _ceiling_rows(
    label: str,
    images: int,
    costs: Costs,
    peaks: list[float],
    programs: list[Program],
    runs: dict[str, list[Run]],
    starts: dict[str, list[Run]],
    failed: set[str],
    ceilings: list[CeilingRow],
) -> None:
    """One row per catsort program: its rates beside the ceiling of the same repeats."""
    for program in programs:
        if program.baseline:
            continue
        pairs = list(zip(runs[program.name], starts[program.name], peaks))
        # The photos after the first: each run's time less its repeat's one-photo run.
        after = [(images - 1) / max(r.seconds - s.seconds, 1e-9) for r, s, _ in pairs]
        cpu = [(r.cpu_seconds - s.cpu_seconds) / (images - 1) * 1000 for r, s, _ in pairs]
        ceilings.append(
            CeilingRow(
                corpus=label,
                program=program.name,
                costs=costs,
                ceiling=median(peaks),
                whole=images / median([r.seconds for r in runs[program.name]]),
                start_seconds=median([r.seconds for r in starts[program.name]]),
                after_start=median(after),
                share=median([rate / peak for rate, (_, _, peak) in zip(after, pairs)]),
                cpu_ms=median(cpu),
                failed=program.name in failed,
            )
        )


def _ceiling_check(key: str, rows: list[CeilingRow], checks: list[Check]) -> None:
    share = CEILING_TARGETS.get(key)
    if share is None or not rows:
        return
    row = rows[0]  # the shipped model
    checks.append(
        Check(
            f"{key}: {row.program} after start-up >= {share:.0%} of the ceiling",
            "a run failed"
            if row.failed
            else f"{row.share:.1%} ({row.after_start:.1f} of {row.ceiling:.1f} photos/s; "
            f"whole runs {row.whole:.1f}/s)",
            not row.failed and row.share >= share,
        )
    )


def flat(
    catsort: Program,
    counts: list[int],
    sources: list[Path],
    tag: str,
    work: Path,
    rows: list[Row],
    checks: list[Check],
) -> None:
    """Peak memory of one catsort run per file count: it must stay low and not grow."""
    peaks, valid = [], True
    for count in counts:
        folder = corpora.small_files(count, sources, tag)
        corpora.read_all(folder)
        run, problem = measure(catsort, folder, work / "flat.csv", count)
        print(
            f"  flat {count} {catsort.name}: {run.seconds:.1f} s (CPU {run.cpu_seconds:.1f} s), "
            f"{run.peak_rss_mb:.0f} MB{'  ' + problem if problem else ''}"
        )
        rows.append(
            Row.of(f"flat: {count:,} small files", catsort.name, count, [run], failed=bool(problem))
        )
        peaks.append(run.peak_rss_mb)
        valid = valid and not problem
    ratio = peaks[1] / peaks[0]
    checks.append(
        Check(
            f"peak RSS < {RSS_TARGET_MB:.0f} MB at {counts[1]:,} files",
            f"{peaks[1]:.0f} MB" if valid else "a run failed",
            valid and peaks[1] < RSS_TARGET_MB,
        )
    )
    checks.append(
        Check(
            f"peak RSS flat: {counts[1]:,} vs {counts[0]:,} files <= {FLAT_TOLERANCE:.2f}x",
            f"{peaks[0]:.0f} -> {peaks[1]:.0f} MB, {ratio:.2f}x" if valid else "a run failed",
            valid and ratio <= FLAT_TOLERANCE,
        )
    )


def single(
    catsort: Program, photo: Path, repeats: int, work: Path, rows: list[Row], checks: list[Check]
) -> None:
    """Wall time for one photo, and the proof that this path imports no TensorFlow."""
    out = work / "single.csv"
    runs, failed = [], False
    for _ in range(repeats):
        run, problem = measure(catsort, photo, out, 1)
        if problem:
            print(f"  single: {problem}\n{run.stderr_tail}")
            failed = True
        runs.append(run)
    print(f"  single {catsort.name}: " + ", ".join(f"{r.seconds:.2f}" for r in runs) + " s")
    rows.append(Row.of("single: one 12 MP photo", catsort.name, 1, runs, failed=failed))
    seconds = median([r.seconds for r in runs])
    checks.append(
        Check(
            f"single photo < {SINGLE_TARGET_S:.1f} s",
            "a run failed" if failed else f"{seconds:.2f} s",
            not failed and seconds < SINGLE_TARGET_S,
        )
    )
    heavy = heavy_imports([catsort.base[0], "-X", "importtime", *catsort.command(photo, out)[1:]])
    checks.append(
        Check(
            "single photo imports no TensorFlow/Keras",
            "the run failed" if heavy is None else ", ".join(sorted(heavy)) or "none imported",
            heavy == set(),
        )
    )


def heavy_imports(command: list[str]) -> set[str] | None:
    """The heavy top-level modules a command imports (python -X importtime); None if it failed."""
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    names = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return names & HEAVY_MODULES


def measure(program: Program, target: Path, out: Path, images: int) -> tuple[Run, str]:
    """One measured run, and why it does not count ('' when it classified every image)."""
    out.unlink(missing_ok=True)  # never judge a run by the CSV of the one before
    run = run_measured(program.command(target, out), cwd=REPO)
    return run, check_output(run, out, images, program.baseline)


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
