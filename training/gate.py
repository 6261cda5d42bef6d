"""The pet gate: how close a photo's features come to the training photos' features.

Each photo's pooled MobileNetV2 features are scaled to unit length and compared, by cosine
similarity, with those of (up to ``MAX_BANK``) training photos: the pet score is the similarity
to the k-th most similar one (deep nearest neighbours, Sun et al. 2022). A photo of a pet has
many close training photos; a screenshot, a landscape or a face has few or none. Unlike a
Gaussian fit of the features, this makes no assumption about their shape, and unit length takes
away the overall activation strength that lets low-contrast images (text pages) look typical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Most training photos kept in the gate (a 2,000 x 1,280 matrix in the model).
MAX_BANK = 2000


@dataclass
class NeighbourGate:
    """Unit-length features of the training photos kept, and which neighbour counts."""

    bank: np.ndarray  # (photos, features), each row of length 1
    k: int

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Pet scores in [0, 1]: cosine similarity to the k-th most similar training photo."""
        similarities = unit_rows(features) @ self.bank.T
        kth = np.partition(similarities, -self.k, axis=1)[:, -self.k]
        return np.clip(kth, 0.0, 1.0)


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Each row divided by its length (rows of zeros stay zero)."""
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def neighbours_for(bank_size: int) -> int:
    """The k used for a bank: one photo in a hundred, between 1 and 20."""
    return int(min(max(bank_size // 100, 1), 20))


def fit_gate(
    features: np.ndarray, labels: np.ndarray, max_bank: int = MAX_BANK, seed: int = 0
) -> NeighbourGate:
    """Keep the training photos' unit features, a class-balanced sample when there are many."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    keep = np.arange(len(features))
    if len(keep) > max_bank:
        rng = np.random.default_rng(seed)
        classes = np.unique(labels)
        per_class = max_bank // len(classes)
        keep = np.concatenate(
            [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes]
        )
    bank = unit_rows(features[np.sort(keep)])
    return NeighbourGate(bank=bank, k=neighbours_for(len(bank)))


def score_threshold(scores: np.ndarray, reject_rate: float) -> float:
    """The pet-score threshold below which ``reject_rate`` of these (pet) scores fall."""
    return float(np.quantile(np.asarray(scores, dtype=np.float64), reject_rate))


def auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    positives = np.asarray(positives, dtype=np.float64)
    negatives = np.asarray(negatives, dtype=np.float64)
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    values = np.concatenate([positives, negatives])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # average ranks of ties
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    positive_ranks = ranks[: len(positives)].sum()
    return float(
        (positive_ranks - len(positives) * (len(positives) + 1) / 2)
        / (len(positives) * len(negatives))
    )
