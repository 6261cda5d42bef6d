"""The HTML report: one self-contained page with the summary and a thumbnail grid per label."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path

from catsort.errors import CatsortError, WriteFailed, os_reason
from catsort.files import write_atomic
from catsort.images import is_image_name
from catsort.metadata import OTHER, UNCERTAIN
from catsort.report.html_summary import dot, h, summary_html
from catsort.report.read import CsvRow, ResultsCsv
from catsort.report.summary import (
    ReportSummary,
    display_order,
    error_reason,
    label_kind,
    locate_image,
)
from catsort.report.truth import truth_from_folders
from catsort.thumbnails import thumbnail_jpeg

THUMB_SIZE = 160
DEFAULT_LIMIT = 500
#: Marks a page as ours: only such a file is ever overwritten by --html.
GENERATOR = '<meta name="generator" content="catsort report">'


@dataclass
class Grid:
    """One section of thumbnails: its rows in display order and how many were left out."""

    title: str
    kind: str
    rows: list[CsvRow]
    left_out: int = 0
    note: str = ""


@dataclass
class Tile:
    """A photo on the page: its row, its thumbnail (None if unreadable), whether it is gone."""

    row: CsvRow
    uri: str | None
    missing: bool


@dataclass
class HtmlReport:
    """What write_html wrote: the page and the photos each grid left out over the limit."""

    path: Path
    shown: int
    left_out: dict[str, int] = field(default_factory=dict)


def thumbnail_uri(path: Path | None, size: int = THUMB_SIZE) -> str | None:
    """Return a small upright JPEG of an image as a data: URI, or None if it cannot be read."""
    data = None if path is None else thumbnail_jpeg(path, size)
    if data is None:
        return None  # the page shows a placeholder instead
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def build_grids(results: ResultsCsv, limit: int = DEFAULT_LIMIT) -> list[Grid]:
    """Split rows into grids: model labels, uncertain, other, unknown labels, then errors.

    Least confident first; other by pet score, most pet-like first (the likeliest mistakes
    of the gate). ``limit`` caps each grid (0 = no cap).
    """
    rows, labels = results.rows, list(results.labels)
    grids = []
    for label in display_order(rows, labels):
        members = [row for row in rows if row.ok and row.label == label]
        if label == OTHER:
            members.sort(key=lambda row: (-(row.pet_score or 0.0), row.path))
            note = "most pet-like first"
        else:
            members.sort(
                key=lambda row: (row.confidence if row.confidence is not None else 2, row.path)
            )
            note = "least confident first"
        if members or label_kind(label, labels) == "model":
            grids.append(Grid(label, label_kind(label, labels), members, note=note))
    skipped = sorted((row for row in rows if row.skipped), key=lambda row: row.path)
    if skipped:
        grids.append(Grid("skipped", "skipped", skipped, note="deliberately not classified"))
    failed = sorted((row for row in rows if row.error), key=lambda row: row.path)
    if failed:
        grids.append(Grid("errors", "error", failed, note="could not be read"))
    for grid in grids:
        if limit and len(grid.rows) > limit:
            grid.left_out, grid.rows = len(grid.rows) - limit, grid.rows[:limit]
    return grids


def write_html(
    results: ResultsCsv,
    summary: ReportSummary,
    out: Path,
    limit: int = DEFAULT_LIMIT,
    progress: Callable[[int, int], None] | None = None,
) -> HtmlReport:
    """Write the report page to ``out`` (only replacing an earlier catsort report).

    ``progress(done, total)`` hears how many thumbnails are made, first with none done.
    """
    out = Path(out)
    _check_target(out, results.source)
    grids = build_grids(results, limit)
    shown = [row for grid in grids for row in grid.rows]
    locations = [locate_image(row, results.source) for row in shown]
    tiles: dict[int, Tile] = {}
    if progress:
        progress(0, len(shown))
    # Pillow releases the GIL while decoding, so threads thumbnail on every core.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for row, where, uri in zip(shown, locations, pool.map(thumbnail_uri, locations)):
            tiles[id(row)] = Tile(row, uri, missing=where is None)
            if progress:
                progress(len(tiles), len(shown))
    page = render_page(summary, grids, tiles, list(results.labels))
    _write_atomically(out, page)
    return HtmlReport(out, len(shown), {g.title: g.left_out for g in grids if g.left_out})


def _check_target(out: Path, source: Path | str) -> None:
    if out.is_dir():
        raise CatsortError(f"{out}: is a folder; give a file name for the HTML report")
    if is_image_name(out):  # a page among the photos would be the next run's bad photo
        raise CatsortError(
            f"{out}: named like a photo; give the HTML report a name ending in .html"
        )
    if out.exists():
        if out.resolve() == Path(source).resolve():
            raise CatsortError(f"{out}: this is the results CSV; give another name for the page")
        with open(out, "rb") as file:
            head = file.read(2048)
        if GENERATOR.encode() not in head:
            raise CatsortError(f"{out}: exists and is not a catsort report; not overwriting it")
    if not out.parent.is_dir():
        raise CatsortError(f"{out.parent}: folder not found for the HTML report")


def _write_atomically(out: Path, page: str) -> None:
    try:
        write_atomic(out, page.encode("utf-8"), replace=True)
    except OSError as exc:
        raise WriteFailed(f"{out}: cannot write the HTML report ({os_reason(exc)})") from None


def render_page(
    summary: ReportSummary,
    grids: list[Grid],
    tiles: dict[int, Tile],
    labels: list[str],
) -> str:
    """Return the whole page as one string; ``tiles`` maps id(row) to its Tile."""
    css = files("catsort.report").joinpath("report.css").read_text(encoding="utf-8")
    nav = "".join(
        f'<a href="#g{i}">{dot(_colour_key(grid), labels)} {h(grid.title)} '
        f"({len(grid.rows) + grid.left_out})</a>"
        for i, grid in enumerate(grids)
    )
    truth = summary.evaluation is not None
    sections = "".join(_grid_html(i, grid, tiles, labels, truth) for i, grid in enumerate(grids))
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{GENERATOR}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>catsort report · {h(Path(summary.source).name)}</title>"
        f"<style>{css}</style></head><body>"
        f'<h1>catsort report</h1><p class="sub">{h(summary.source)} · '
        f"{summary.total} photos{_videos(summary)} · made {when}</p>"
        f"{summary_html(summary)}<nav>{nav}</nav>{sections}</body></html>\n"
    )


def _videos(summary: ReportSummary) -> str:
    """How many of the photos are videos, when some are."""
    if not summary.videos:
        return ""
    return f" (of them {summary.videos} video{'s' if summary.videos != 1 else ''})"


def _grid_html(
    index: int, grid: Grid, tiles: dict[int, Tile], labels: list[str], truth: bool
) -> str:
    figures = "".join(_tile_html(tiles[id(row)], labels, truth) for row in grid.rows)
    more = (
        f'<p class="more">{grid.left_out} more not shown here (the page shows '
        f"{len(grid.rows)} per label; use --html-limit 0 for all).</p>"
        if grid.left_out
        else ""
    )
    empty = "" if grid.rows else '<p class="note">No photos.</p>'
    return (
        f'<section class="card" id="g{index}"><div class="section-head">'
        f"{dot(_colour_key(grid), labels)}<h2>{h(grid.title)}</h2>"
        f'<span class="note">{len(grid.rows) + grid.left_out} photos · {h(grid.note)}</span>'
        f'</div><div class="grid">{figures}</div>{empty}{more}</section>'
    )


def _colour_key(grid: Grid) -> str:
    return "error" if grid.kind == "error" else grid.title


def _tile_html(tile: Tile, labels: list[str], truth: bool) -> str:
    row = tile.row
    name = row.path.replace("\\", "/").rsplit("/", 1)[-1] or row.path
    if tile.uri:
        picture = f'<img src="{tile.uri}" alt="{h(name)}" loading="lazy">'
    else:
        why = "image no longer here" if tile.missing else "cannot show this image"
        picture = f'<div class="placeholder">{why}</div>'
    wrong = False
    if row.is_video:
        frames = f"{row.frames} frame{'s' if row.frames != 1 else ''}" if row.frames else ""
        picture += f'<span class="video" title="a video">&#9654; {h(frames or "video")}</span>'
    if not row.ok:
        details = f'<div class="reason">{h(row.skipped or error_reason(row))}</div>'
    else:
        details = _meter_html(row, len(labels))
        true = truth_from_folders(row.path, labels) if truth else None
        if true is not None and true != row.label:
            wrong = row.label not in (UNCERTAIN, OTHER)
            details += f'<span class="badge">true: {h(true)}</span>'
    return (
        f'<figure class="tile{" wrong" if wrong else ""}"><div class="thumb">{picture}</div>'
        f'<figcaption><div class="name" title="{h(row.path)}">{h(name)}</div>'
        f"{details}</figcaption></figure>"
    )


def _meter_html(row: CsvRow, num_labels: int) -> str:
    if row.label == OTHER and row.pet_score is not None:
        text, scaled = f"pet {row.pet_score:.2f}", row.pet_score
    elif row.confidence is not None:
        low = 1 / num_labels  # the lowest a top probability can be: an empty bar
        text, scaled = f"{row.confidence:.2f}", (row.confidence - low) / (1 - low)
    else:
        return ""
    scaled = min(max(scaled, 0.0), 1.0)
    tone = "lo" if scaled < 0.34 else "mid" if scaled < 0.67 else "hi"
    return (
        f'<div class="meter"><div class="bar"><span class="{tone}" '
        f'style="width:{100 * scaled:.0f}%"></span></div>{h(text)}</div>'
    )
