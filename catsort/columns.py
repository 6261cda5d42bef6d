"""The results CSV's columns: what classify writes and report reads, in one place."""

from __future__ import annotations

from collections.abc import Sequence

PROBABILITY_PREFIX = "p_"

#: The status of a photo catsort deliberately left unclassified (too small to tell).
SKIPPED = "skipped"

#: Columns every results CSV has besides the p_<label> ones, which follow "confidence".
REQUIRED = ("path", "label", "confidence", "status", "error", "destination")
#: Between the names of the companion files that went with a photo, in its "companions" cell.
COMPANION_SEPARATOR = ";"

#: The XMP sidecar holding the photo's keyword after --tag; absent from older CSVs.
SIDECAR = "sidecar"

#: The column saying whether a row came from the results cache ("yes") or the photo was read
#: ("no"). Added after "destination"; CSVs written before it lack it, and still read.
CACHED = "cached"
YES, NO = "yes", "no"

#: How many frames of a video were looked at; empty for a photo. Added after "cached"; CSVs
#: written before it lack it, and still read.
FRAMES = "frames"

#: Where in the photo the pet was found, when the label was decided on a part of it: the box's
#: corners ``x0 y0 x1 y1`` relative to the photo's width and height (0 to 1, from the top left),
#: empty for a photo decided whole. Added after "frames"; older CSVs lack it, and still read.
BOX = "box"


def format_box(box: Sequence[float] | None) -> str:
    """A box as its cell: ``x0 y0 x1 y1`` with three decimals, or empty."""
    return "" if box is None else " ".join(f"{value:.3f}" for value in box)


def parse_box(text: str) -> tuple[float, float, float, float] | None:
    """A box cell read back: four numbers from 0 to 1, else None (empty or not a box)."""
    try:
        values = tuple(float(value) for value in text.split())
    except ValueError:
        return None
    if len(values) != 4 or not all(0.0 <= value <= 1.0 for value in values):
        return None
    x0, y0, x1, y1 = values
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def probability(label: str) -> str:
    """The name of a label's probability column: ``p_cat``."""
    return PROBABILITY_PREFIX + label


def header(labels: Sequence[str]) -> list[str]:
    """The CSV header for a model with these labels."""
    return [
        "path",
        "label",
        "confidence",
        *(probability(label) for label in labels),
        "pet_score",
        "status",
        "error",
        "destination",
        "companions",
        SIDECAR,
        CACHED,
        FRAMES,
        BOX,
    ]


def labels_in(names: Sequence[str]) -> tuple[str, ...]:
    """The model labels a header names: its p_<label> columns right after ``confidence``.

    A column added later by hand, such as p_value, is not one of them.
    """
    first = list(names).index("confidence") + 1 if "confidence" in names else len(names)
    labels: list[str] = []
    for name in names[first:]:
        if not (name.startswith(PROBABILITY_PREFIX) and len(name) > len(PROBABILITY_PREFIX)):
            break
        labels.append(name[len(PROBABILITY_PREFIX) :])
    return tuple(labels)
