"""What a review shows: each photo a run classified, in the order a person should look at them,
with the model's scores, what a person decided, and whether it is still as the run left it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from catsort.decision import Prediction
from catsort.metadata import OTHER, UNCERTAIN

#: What a photo is now, against what the run saw: as it was, changed (new bytes), or gone.
OK = "ok"
CHANGED = "changed"
MISSING = "missing"

#: Why a photo cannot be decided, by its state: it is never decided blindly.
WHY_NOT = {
    CHANGED: "changed since the run: classify it again before deciding",
    MISSING: "moved or deleted since the run: not found where the run left it",
}


@dataclass
class Item:
    """One photo under review: where it is now, the model's prediction, a person's label."""

    id: int
    path: Path  # where the photo is now
    shown: str  # its path relative to the folder reviewed, with "/" (the page's data-path)
    prediction: Prediction  # the model's: scores, and its label where no person decided
    model_label: str  # what the model said: a label, uncertain or other
    decided: str | None = None  # a person's label (in this review, or an earlier one)
    state: str = OK
    stamp: tuple[int, int] | None = None  # size and mtime in ns when the review read it
    row: int | None = None  # its row in the results CSV reviewed (a CSV review)
    message: str | None = None  # what went wrong with the last decision about it

    def to_json(self) -> dict[str, object]:
        """What the page knows of it."""
        return dict(zip(FIELDS, self.to_row()))

    def to_row(self) -> list[object]:
        """``to_json``'s values, in the order of ``FIELDS``: the page's 10,000 rows are a third
        of the size as lists, and parse three times as fast."""
        probabilities = self.prediction.probabilities
        pet = self.prediction.pet_score
        return [
            self.id,
            self.shown,
            self.model_label,
            round(self.prediction.confidence, 4),
            {label: round(value, 4) for label, value in probabilities.items()},
            None if pet is None else round(pet, 4),
            self.decided,
            self.state,
            self.message,
        ]


#: What the page knows of a photo (``Item.to_json``'s keys, ``Item.to_row``'s order).
FIELDS = ("id", "path", "label", "confidence", "p", "pet", "decided", "state", "message")


def shown_path(path: Path, folder: Path) -> str:
    """A photo's path relative to the folder reviewed, with "/" ("../" where it is outside)."""
    absolute, base = os.path.abspath(path), os.path.abspath(folder).rstrip(os.sep) + os.sep
    if absolute.startswith(base):  # the usual case, without relpath's cost (10,000 photos)
        relative = absolute[len(base) :]
    else:
        try:
            relative = os.path.relpath(absolute, base)
        except ValueError:  # another drive
            relative = absolute
    return relative.replace(os.sep, "/")


def stamp_of(path: Path) -> tuple[int, int] | None:
    """A file's size and modification time in ns, or None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def state_now(item: Item) -> str:
    """What the photo is now, against what the review read: OK, CHANGED or MISSING."""
    if item.state != OK:
        return item.state
    now = stamp_of(item.path)
    if now is None:
        return MISSING
    return OK if item.stamp is None or now == item.stamp else CHANGED


def model_label_of(prediction: Prediction, decided_by: str | None) -> str:
    """The model's label of a result: its label, unless a person's replaced it (then the
    model's likeliest label, for showing: the thresholds that made it are gone)."""
    if decided_by is None or not prediction.probabilities:
        return prediction.label
    return max(prediction.probabilities, key=lambda label: prediction.probabilities[label])


def review_order(items: list[Item]) -> list[Item]:
    """The order a person looks at them: uncertain (least confident first), other (most
    pet-like first), then the model's labels (least confident first); what a person decided
    in an earlier review last. Ids follow this order."""

    def key(item: Item) -> tuple[int, float, str]:
        prediction = item.prediction
        if item.decided is not None:
            group, score = 4, prediction.confidence
        elif item.model_label == UNCERTAIN:
            group, score = 0, prediction.confidence
        elif item.model_label == OTHER:
            group, score = 1, -(prediction.pet_score or 0.0)
        elif item.model_label in prediction.probabilities:
            group, score = 2, prediction.confidence
        else:
            group, score = 3, prediction.confidence
        return group, score, item.shown

    ordered = sorted(items, key=key)
    for number, item in enumerate(ordered):
        item.id = number
    return ordered
