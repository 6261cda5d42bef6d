"""The report in the terminal: Rich tables built from a ReportSummary (printing is the caller's)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from catsort.api import Evaluation, Histogram, ReportSummary, shown

_BLOCKS = " ▁▂▃▄▅▆▇█"
_STYLES = {
    "model": "green",
    "uncertain": "yellow",
    "other": "magenta",
    "unknown": "cyan",
    "error": "red",
}
_BAR_WIDTH = 30


def render_summary(summary: ReportSummary) -> RenderableType:
    """Return everything the terminal report shows, as one Rich renderable."""
    parts: list[RenderableType] = [
        Text.assemble(
            ("catsort report", "bold"),
            " · ",
            (shown(summary.source), "cyan"),
            f" · {summary.total} photo{'s' if summary.total != 1 else ''}",
            f" (of them {summary.videos} video{'s' if summary.videos != 1 else ''})"
            if summary.videos
            else "",
        ),
        counts_table(summary),
        histogram_table(summary.histograms),
    ]
    if summary.tagged:
        parts.append(Text(f"{summary.tagged} photo(s) tagged: their keyword is in an XMP sidecar."))
    if summary.missing_images:
        parts.append(
            Text(
                f"{summary.missing_images} photo(s) are no longer at their path or destination "
                "(moved or deleted since).",
                style="yellow",
            )
        )
    if summary.lowest:
        parts.append(lowest_table(summary))
    if summary.errors:
        parts.append(errors_table(summary))
    if summary.evaluation is not None:
        parts.extend(evaluation_parts(summary.evaluation))
    return Group(*_spaced(parts))


def _spaced(parts: list[RenderableType]) -> list[RenderableType]:
    spaced: list[RenderableType] = []
    for part in parts:
        spaced.extend([part, Text()])
    return spaced[:-1]


def counts_table(summary: ReportSummary) -> Table:
    """Photos per label, uncertain, other and errors, with percentages and a bar."""
    table = Table(title="Photos per label", title_justify="left", box=None, padding=(0, 2))
    table.add_column("label")
    table.add_column("photos", justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    for item in summary.counts:
        style = _STYLES.get(item.kind, "")
        bar = "█" * round(item.percent / 100 * _BAR_WIDTH) or ("▏" if item.count else "")
        table.add_row(
            Text(shown(item.label), style=style),
            str(item.count),
            f"{item.percent:.1f} %",
            Text(bar, style=style),
        )
    return table


def sparkline(counts: list[int]) -> str:
    """Draw counts as one line of block characters, the largest as a full block."""
    peak = max(counts, default=0)
    if not peak:
        return " " * len(counts)
    return "".join(
        _BLOCKS[max(1, round(count / peak * (len(_BLOCKS) - 1)))] if count else _BLOCKS[0]
        for count in counts
    )


def histogram_table(histograms: list[Histogram]) -> Table:
    """One sparkline per label of how its confidences spread from 1/K to 1."""
    table = Table(title="Confidence", title_justify="left", box=None, padding=(0, 2))
    table.add_column("label")
    if histograms:
        low = histograms[0].low
        table.add_column(f"{low:.2f}{'':>{max(len(histograms[0].counts) - 8, 1)}}1.00")
    table.add_column("photos", justify="right")
    for histogram in histograms:
        total = sum(histogram.counts)
        if total:
            table.add_row(
                Text(shown(histogram.label)),
                Text(sparkline(histogram.counts), style="on grey15"),
                str(total),
            )
    return table


def lowest_table(summary: ReportSummary) -> Table:
    """The least confident photos, the first ones worth a look."""
    table = Table(
        title=f"{len(summary.lowest)} least confident",
        title_justify="left",
        box=None,
        padding=(0, 2),
    )
    table.add_column("confidence", justify="right")
    table.add_column("label")
    table.add_column("path", overflow="fold")
    for item in summary.lowest:
        table.add_row(f"{item.confidence:.4f}", Text(shown(item.label)), Text(shown(item.path)))
    return table


def errors_table(summary: ReportSummary) -> Table:
    """Failed photos grouped by reason, with example paths."""
    table = Table(title="Errors", title_justify="left", box=None, padding=(0, 2))
    table.add_column("photos", justify="right", style="red")
    table.add_column("reason", overflow="fold")
    table.add_column("for example", overflow="fold")
    for group in summary.errors:
        more = (
            f"\n… and {group.count - len(group.examples)} more"
            if group.count > len(group.examples)
            else ""
        )
        table.add_row(
            str(group.count),
            Text(shown(group.reason)),
            Text("\n".join(shown(p) for p in group.examples) + more),
        )
    return table


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def evaluation_parts(evaluation: Evaluation) -> list[RenderableType]:
    """Accuracy line, precision/recall table and confusion matrix against truth folders."""
    if not evaluation.evaluated:
        return [
            Text(
                "Truth from folders: no photo sits in a folder named after a label "
                "(such as cats/ or dog/), so there is nothing to compare.",
                style="yellow",
            )
        ]
    headline = Text.assemble(
        ("Accuracy ", "bold"),
        (_percent(evaluation.accuracy), "bold green"),
        f" of {evaluation.decided} sorted photos · coverage {_percent(evaluation.coverage)} "
        f"of {evaluation.evaluated} (uncertain and other are not sorted) · "
        f"{_percent(evaluation.accuracy_all)} counting those as wrong",
    )
    left_out = []
    if evaluation.no_truth:
        left_out.append(f"{evaluation.no_truth} without a truth folder")
    if evaluation.errors:
        left_out.append(f"{evaluation.errors} unreadable")
    parts: list[RenderableType] = [headline]
    if left_out:
        parts.append(Text(f"Left out: {', '.join(left_out)}.", style="dim"))

    scores = Table(title="Per class", title_justify="left", box=None, padding=(0, 2))
    for name in ("class", "photos", "labelled", "precision", "recall"):
        scores.add_column(name, justify="left" if name == "class" else "right")
    for score in evaluation.classes:
        scores.add_row(
            Text(shown(score.label)),
            str(score.support),
            str(score.predicted),
            _percent(score.precision),
            _percent(score.recall),
        )

    matrix = Table(
        title="Confusion: true class (rows) × label given (columns)",
        title_justify="left",
        box=None,
        padding=(0, 2),
    )
    matrix.add_column("true \\ label")
    for column in evaluation.columns:
        matrix.add_column(Text(shown(column)), justify="right")
    for true, counts in evaluation.confusion.items():
        matrix.add_row(
            Text(shown(true)),
            *(
                Text(
                    str(counts[column]),
                    style="bold green" if column == true else ("red" if counts[column] else "dim"),
                )
                for column in evaluation.columns
            ),
        )
    return [Group(*parts), scores, matrix]
