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
