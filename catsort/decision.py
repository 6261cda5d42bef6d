"""Turning a photo's scores into what classify concludes: a label, its confidence, or why not."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from catsort.metadata import OTHER, UNCERTAIN, ModelMetadata


@dataclass(frozen=True)
class Prediction:
    """What classify concludes about one photo."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    pet_score: float | None


def probabilities(logits_row: np.ndarray, activation: str) -> np.ndarray:
    """Turn one row of logits into per-label probabilities."""
    row = np.asarray(logits_row, dtype=np.float64).reshape(-1)
    if activation == "sigmoid":
        p = _sigmoid(float(row[0]))
        return np.array([1.0 - p, p])
    shifted = np.exp(row - row.max())
    return shifted / shifted.sum()


def decide(
    logits_row: np.ndarray,
    pet_score: float | None,
    metadata: ModelMetadata,
    threshold: float | None = None,
    gate_threshold: float | None = None,
    use_gate: bool = True,
) -> Prediction:
    """Pick the label for one photo: `other` if gated out, `uncertain` below the threshold."""
    probs = probabilities(logits_row, metadata.activation)
    best = int(np.argmax(probs))
    confidence = float(probs[best])
    label = metadata.labels[best]
    threshold = metadata.threshold if threshold is None else threshold
    gate = metadata.gate_threshold if gate_threshold is None else gate_threshold
    score = None if pet_score is None else float(pet_score)
    if use_gate and score is not None and gate is not None and score < gate:
        label = OTHER
    elif confidence < threshold:
        label = UNCERTAIN
    return Prediction(
        label=label,
        confidence=confidence,
        probabilities={name: float(p) for name, p in zip(metadata.labels, probs)},
        pet_score=score,
    )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def combine_frames(
    logits: np.ndarray, pet_scores: np.ndarray | None
) -> tuple[np.ndarray, float | None]:
    """One clip's logits and pet score from its frames', for ``decide`` to label it as a photo.

    The clip's pet score is the score of its most pet-like half (the ceil(n/2)-th highest frame
    score), so the gate lets a clip in only when at least half its frames look like a pet: one
    frame of a street that happens to pass cannot let a clip in. Its logits are the mean of
    those frames' (and any tied with them), so a pet that leaves the frame does not weaken the
    label, and frames that disagree (a cat, then a dog) lower the confidence towards
    ``uncertain``. Without a gate, the mean of every frame's logits.
    """
    rows = np.asarray(logits, dtype=np.float64).reshape(len(logits), -1)
    if pet_scores is None:
        return rows.mean(axis=0), None
    scores = np.asarray(pet_scores, dtype=np.float64).reshape(-1)
    needed = (len(scores) + 1) // 2
    clip_score = float(np.sort(scores)[::-1][needed - 1])
    return rows[scores >= clip_score].mean(axis=0), clip_score
