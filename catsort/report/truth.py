"""Checking predictions against true classes taken from folder names (``--truth folders``).

How uncertain and other count: they are answers that sort nothing, so

- ``accuracy`` is over decided predictions (a model label): of the photos catsort sorted, the
  share that went to the right folder;
- ``coverage`` is the share of photos that got a model label at all;
- ``accuracy_all`` counts uncertain and other as wrong (correct / all evaluated photos);
- per class, precision is how pure the label's folder is, and recall is the share of that
  class's photos that ended up in it (uncertain and other are misses).

Only the original location (the CSV's ``path`` column) is looked at, never the destination.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catsort.metadata import OTHER, UNCERTAIN
from catsort.report.read import CsvRow

_SEPARATORS = re.compile(r"[\\/]")


@dataclass
class ClassScore:
    """Precision and recall of one model label (None where there is nothing to divide by)."""

    label: str
    support: int  # photos whose folder says this class
    predicted: int  # photos labelled this class
    correct: int
    precision: float | None
    recall: float | None


@dataclass
class Evaluation:
    """Predictions compared with the true classes of the photos that have a truth folder."""

    evaluated: int  # labelled photos with a truth folder
    no_truth: int  # photos without one (left out)
    errors: int  # photos with a truth folder that classify could not read (left out)
    decided: int  # evaluated photos given a model label (not uncertain or other)
    correct: int
    accuracy: float | None  # correct / decided
    coverage: float | None  # decided / evaluated
    accuracy_all: float | None  # correct / evaluated
    classes: list[ClassScore]
    columns: list[str]  # predicted labels in the confusion matrix, in order
    confusion: dict[str, dict[str, int]]  # true class -> predicted label -> count


def path_folders(path: str) -> list[str]:
    """Return the folder names of a path, nearest first (either slash separates)."""
    return [part for part in reversed(_SEPARATORS.split(path)[:-1]) if part]


def label_forms(label: str) -> set[str]:
    """Return the lower-case folder names that mean a label: singular and plural."""
    word = label.lower()
    forms = {word, word + "s", word + "es"}
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    if word.endswith("s"):
        forms.add(word[:-1])
    return forms


def truth_from_folders(path: str, labels: list[str]) -> str | None:
    """Return the true class from the nearest folder named after a label, or None."""
    names = {form: label for label in labels for form in label_forms(label)}
    for folder in path_folders(path):
        if folder.lower() in names:
            return names[folder.lower()]
    return None


def evaluate(rows: list[CsvRow], labels: list[str]) -> Evaluation:
    """Compare labels with the truth folders: accuracy, coverage, precision, recall, confusion."""
    columns = [*labels, UNCERTAIN, OTHER]
    extra = sorted({row.label for row in rows if row.ok} - set(columns))
    columns += extra
    confusion = {label: {column: 0 for column in columns} for label in labels}
    no_truth = errors = 0
    for row in rows:
        true = truth_from_folders(row.path, labels)
        if true is None:
            no_truth += 1
        elif not row.ok:
            errors += 1
        else:
            confusion[true][row.label] += 1
    classes = [_class_score(label, confusion) for label in labels]
    evaluated = sum(sum(counts.values()) for counts in confusion.values())
    decided = sum(score.predicted for score in classes)
    correct = sum(score.correct for score in classes)
    return Evaluation(
        evaluated=evaluated,
        no_truth=no_truth,
        errors=errors,
        decided=decided,
        correct=correct,
        accuracy=_ratio(correct, decided),
        coverage=_ratio(decided, evaluated),
        accuracy_all=_ratio(correct, evaluated),
        classes=classes,
        columns=columns,
        confusion=confusion,
    )


def _class_score(label: str, confusion: dict[str, dict[str, int]]) -> ClassScore:
    correct = confusion[label][label]
    support = sum(confusion[label].values())
    predicted = sum(counts[label] for counts in confusion.values())
    return ClassScore(
        label, support, predicted, correct, _ratio(correct, predicted), _ratio(correct, support)
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None
