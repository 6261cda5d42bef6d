"""The summary cards at the top of the HTML report: counts, confidence, evaluation, errors."""

from __future__ import annotations

from html import escape

from catsort.names import shown
from catsort.report.summary import Histogram, LabelCount, ReportSummary
from catsort.report.truth import Evaluation

_KIND_COLOURS = {
    "uncertain": "#d69e2e",
    "other": "#805ad5",
    "unknown": "#718096",
    "error": "#c53030",
}
#: Model labels take these in order, so cat and dog differ in the bar and the histograms.
_MODEL_COLOURS = ("#2b6cb0", "#2f855a", "#0f766e", "#b83280", "#c05621", "#4c51bf")


def colour(label: str, labels: list[str]) -> str:
    """Return the CSS colour a label is drawn in across the page."""
    if label in labels:
        return _MODEL_COLOURS[labels.index(label) % len(_MODEL_COLOURS)]
    return _KIND_COLOURS.get(label, _KIND_COLOURS["unknown"])


def dot(label: str, labels: list[str]) -> str:
    """Return a small colour square for a label."""
    return f'<span class="dot" style="background:{colour(label, labels)}"></span>'


def h(text: object) -> str:
    """Escape text for HTML text and attributes, undecodable file-name bytes included."""
    return escape(shown(str(text)), quote=True)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def summary_html(summary: ReportSummary) -> str:
    """Return the summary card, plus evaluation and error cards where there is something."""
    parts = [
        '<section class="card"><div class="cols">',
        f"<div>{_counts_html(summary)}</div>",
        f"<div>{_histograms_html(summary.histograms, summary.labels)}</div>",
        "</div></section>",
    ]
    if summary.evaluation is not None:
        parts.append(_evaluation_html(summary.evaluation))
    if summary.errors:
        parts.append(_errors_html(summary))
    return "".join(parts)


def _counts_html(summary: ReportSummary) -> str:
    stack = "".join(
        f'<span style="width:{item.percent:.2f}%;background:{_item_colour(item, summary)}" '
        f'title="{h(item.label)}: {item.count}"></span>'
        for item in summary.counts
        if item.count
    )
    legend = "".join(
        f'<span class="dot" style="background:{_item_colour(item, summary)}"></span>'
        f"<span>{h(item.label)}</span>"
        f'<span class="num">{item.count:,}</span><span class="pct">{item.percent:.1f} %</span>'
        for item in summary.counts
    )
    missing = (
        f'<p class="warn">{summary.missing_images:,} photo(s) are no longer at their path or '
        "destination; they show as empty boxes.</p>"
        if summary.missing_images
        else ""
    )
    videos = f" (of them {summary.videos:,} videos)" if summary.videos else ""
    return (
        f'<h3>Photos</h3><div class="total">{summary.total:,} <small>photos{videos} in '
        f'{h(summary.source)}</small></div><div class="stack">{stack}</div>'
        f'<div class="legend">{legend}</div>{missing}'
    )


def _item_colour(item: LabelCount, summary: ReportSummary) -> str:
    return colour("error" if item.kind == "error" else item.label, summary.labels)


def _histograms_html(histograms: list[Histogram], labels: list[str]) -> str:
    rows = []
    for histogram in histograms:
        total = sum(histogram.counts)
        if not total:
            continue
        peak = max(histogram.counts)
        fill = colour(histogram.label, labels)
        bins = "".join(
            f'<span style="height:{100 * count / peak:.0f}%;background:{fill}" '
            f'title="{count}"></span>'
            for count in histogram.counts
        )
        rows.append(
            f'<span class="lab">{h(histogram.label)}</span><div class="bins">{bins}'
            f'</div><span class="n">{total:,}</span>'
        )
    if not rows:
        return '<h3>Confidence</h3><p class="note">No labelled photos.</p>'
    low = histograms[0].low
    axis = (
        f'<span></span><div class="axis"><span>{low:.2f}</span><span>confidence</span>'
        "<span>1.00</span></div><span></span>"
    )
    return f'<h3>Confidence</h3><div class="hist">{"".join(rows)}{axis}</div>'


def _evaluation_html(evaluation: Evaluation) -> str:
    if not evaluation.evaluated:
        return (
            '<section class="card"><h3>Against truth folders</h3><p class="note">No photo '
            "sits in a folder named after a label (such as cats/ or dog/).</p></section>"
        )
    left_out = []
    if evaluation.no_truth:
        left_out.append(f"{evaluation.no_truth:,} without a truth folder")
    if evaluation.errors:
        left_out.append(f"{evaluation.errors:,} unreadable")
    note = f" Left out: {', '.join(left_out)}." if left_out else ""
    headline = (
        f'<div class="big">{_percent(evaluation.accuracy)}</div><p class="note">accuracy on the '
        f"{evaluation.decided:,} photos given a label · coverage {_percent(evaluation.coverage)} "
        f"of {evaluation.evaluated:,} (uncertain and other sort nothing) · "
        f"{_percent(evaluation.accuracy_all)} counting those as wrong.{note}</p>"
    )
    scores = "".join(
        f"<tr><td>{h(s.label)}</td><td>{s.support:,}</td><td>{s.predicted:,}</td>"
        f"<td>{_percent(s.precision)}</td><td>{_percent(s.recall)}</td></tr>"
        for s in evaluation.classes
    )
    header = "".join(f"<th>{h(column)}</th>" for column in evaluation.columns)
    matrix = "".join(
        f"<tr><td>{h(true)}</td>"
        + "".join(
            f'<td class="{"hit" if column == true else "miss" if counts[column] else "zero"}">'
            f"{counts[column]:,}</td>"
            for column in evaluation.columns
        )
        + "</tr>"
        for true, counts in evaluation.confusion.items()
    )
    return (
        '<section class="card"><div class="cols">'
        f"<div><h3>Against truth folders</h3>{headline}</div>"
        "<div><h3>Per class</h3><table><tr><th>class</th><th>photos</th><th>labelled</th>"
        f"<th>precision</th><th>recall</th></tr>{scores}</table></div>"
        "<div><h3>Confusion: true class × label given</h3><table><tr><th>true</th>"
        f"{header}</tr>{matrix}</table></div></div></section>"
    )


def _errors_html(summary: ReportSummary) -> str:
    items = []
    for group in summary.errors:
        examples = "<br>".join(f"<code>{h(path)}</code>" for path in group.examples)
        more = (
            f' <span class="note">and {group.count - len(group.examples):,} more</span>'
            if group.count > len(group.examples)
            else ""
        )
        items.append(f"<li><b>{group.count:,}</b> · {h(group.reason)}<br>{examples}{more}</li>")
    return f'<section class="card errors"><h3>Errors</h3><ul>{"".join(items)}</ul></section>'
