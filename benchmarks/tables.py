"""The benchmark's results: rows, target checks, and the Markdown they are printed as."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ceiling import Costs
from measure import Run, median


@dataclass(frozen=True)
class Row:
    """One program on one corpus: median wall time over its runs, and its highest peak RSS."""

    corpus: str
    program: str
    images: int
    runs: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    vs_baseline: float | None = None
    cpu_vs_baseline: float | None = None
    failed: bool = False

    @property
    def per_second(self) -> float:
        """Images per second, end to end."""
        return self.images / self.seconds

    @classmethod
    def of(
        cls,
        corpus: str,
        program: str,
        images: int,
        runs: list[Run],
        baseline: list[Run] | None = None,
        failed: bool = False,
    ) -> Row:
        """Summarise the runs of one program against the baseline's runs on the same photos.

        The ratios pair each run with the baseline's run of the same repeat (they ran one
        after the other) and take the median, which drifting load disturbs less than a ratio
        of medians taken at different moments.
        """
        ratio = cpu_ratio = None
        if baseline:
            ratio = median([b.seconds / r.seconds for b, r in zip(baseline, runs)])
            cpu_ratio = median([b.cpu_seconds / r.cpu_seconds for b, r in zip(baseline, runs)])
        return cls(
            corpus,
            program,
            images,
            len(runs),
            median([run.seconds for run in runs]),
            median([run.cpu_seconds for run in runs]),
            max(run.peak_rss_mb for run in runs),
            ratio,
            cpu_ratio,
            failed,
        )


@dataclass(frozen=True)
class CeilingRow:
    """catsort's rates on a corpus beside the machine's ceiling for its photos."""

    corpus: str
    program: str
    costs: Costs  # decode and model a photo, one thread
    ceiling: float  # photos a second, every core decoding and running the model (median)
    whole: float  # photos a second over whole runs, start-up included (median time)
    start_seconds: float  # median time of a run on one photo of the corpus
    after_start: float  # photos a second after the first (median of the paired repeats)
    share: float  # after_start / the ceiling of the same repeat (median)
    cpu_ms: float  # CPU time a photo after the first, all threads
    failed: bool = False


@dataclass(frozen=True)
class Check:
    """A target, what was measured, and whether it was met (None: could not be measured)."""

    target: str
    measured: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        """PASS, FAIL or SKIP."""
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]


def render(
    rows: list[Row],
    checks: list[Check],
    machine: dict[str, str],
    conditions: dict[str, str],
    ceilings: list[CeilingRow] | None = None,
) -> str:
    """The results as Markdown: machine, conditions, the table, and the targets."""
    lines = [
        "**Machine:** " + "; ".join(f"{k} {v}" for k, v in machine.items()),
        "",
        "**Run:** " + "; ".join(f"{k}: {v}" for k, v in conditions.items()),
        "",
    ]
    table = [
        [
            "Corpus",
            "Program",
            "Images",
            "Runs",
            "Median time",
            "Images/s",
            "vs baseline",
            "CPU time",
            "CPU vs baseline",
            "Peak RSS",
        ]
    ]
    for row in rows:
        table.append(
            [
                row.corpus,
                row.program + (" (FAILED)" if row.failed else ""),
                f"{row.images:,}",
                str(row.runs),
                f"{row.seconds:.2f} s",
                f"{row.per_second:.1f}",
                _ratio(row.vs_baseline),
                f"{row.cpu_seconds:.1f} s",
                _ratio(row.cpu_vs_baseline),
                f"{row.peak_rss_mb:.0f} MB",
            ]
        )
    lines += markdown_table(table, right=range(2, 10))
    lines += [
        "",
        "Median time: wall clock from launch to exit, median of the runs. Images/s: "
        "from the median time. vs baseline: how many times faster than the baseline, the "
        "median over the repeats of each run against the baseline's run of the same "
        "repeat. CPU time: user + system seconds of the process, all threads (median); "
        "CPU vs baseline: how many times less CPU time, paired the same way. Peak RSS: "
        "the highest of the runs.",
    ]
    if ceilings:
        lines += ["", "The ceiling: what the cores allow for decoding and the model alone:", ""]
        lines += markdown_table(
            [
                [
                    "Corpus",
                    "Program",
                    "Decode",
                    "Model",
                    "Ceiling",
                    "Whole runs",
                    "One photo",
                    "After start-up",
                    "Share",
                    "CPU a photo",
                ]
            ]
            + [
                [
                    c.corpus,
                    c.program + (" (FAILED)" if c.failed else ""),
                    f"{c.costs.decode_ms:.2f} ms",
                    f"{c.costs.model_ms:.2f} ms",
                    f"{c.ceiling:.1f}/s",
                    f"{c.whole:.1f}/s",
                    f"{c.start_seconds:.2f} s",
                    f"{c.after_start:.1f}/s",
                    f"{c.share:.1%}",
                    f"{c.cpu_ms:.2f} ms",
                ]
                for c in ceilings
            ],
            right=range(2, 10),
        )
        lines += [
            "",
            "Decode, model: CPU time a photo on one thread (`load_image`; the model in batches "
            "of classify's size), on up to 200 of the corpus' photos. Ceiling: photos a second "
            "with one thread per core, each decoding its share of those photos and running its own "
            "one-thread copy of the model, nothing else (benchmarks/ceiling.py), measured in "
            "every repeat before the programs (median). Whole runs: photos / median time. One "
            "photo: the median time of the same command on one photo of the corpus (start-up, "
            "loading the model, exit). After start-up: (photos - 1) / (run - its repeat's "
            "one-photo run), median. Share: after start-up / the ceiling of the same repeat, "
            "median; it needs an idle machine. CPU a photo: catsort's CPU time (all threads) a "
            "photo after the first, paired the same way; beside decode + model it shows "
            "catsort's own overhead, even on a busy machine.",
        ]
    lines += ["", "Targets:", ""]
    lines += markdown_table(
        [["Target", "Measured", "Result"]] + [[c.target, c.measured, c.verdict] for c in checks],
        right=(),
    )
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, text: str, marker: str = "bench") -> None:
    """Put the results between the ``marker`` markers of ``path``, or write a new file."""
    begin, end_marker = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    block = f"{begin}\n{text}{end_marker}"
    if not path.exists():
        path.write_text(f"# catsort benchmark results\n\n{block}\n", encoding="utf-8")
        return
    old = path.read_text(encoding="utf-8")
    start, end = old.find(begin), old.find(end_marker)
    if start < 0 or end < start:
        raise SystemExit(f"{path}: no {begin} ... {end_marker} markers; not overwriting it")
    path.write_text(old[:start] + block + old[end + len(end_marker) :], encoding="utf-8")


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def markdown_table(cells: list[list[str]], right) -> list[str]:
    """A Markdown table padded to line up in a terminal too."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                cell.rjust(w) if i in right else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return [line(cells[0]), rule, *map(line, cells[1:])]
