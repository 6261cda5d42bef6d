"""The pet gate: how close a photo's features come to the training photos' features.

Two gates, both fitted on the training photos' pooled MobileNetV2 features:

- ``NeighbourGate`` (shipped, the default): cosine similarity to the k-th most similar training
  photo (deep nearest neighbours, Sun et al. 2022), on the fine-tuned features.
- ``MahalanobisGate`` (``--gate mahalanobis``): the Mahalanobis distance to the nearer of the
  class means, under one covariance shared by the classes and shrunk towards a multiple of the
  identity (Ledoit and Wolf 2004), on the features of the ImageNet MobileNetV2 *before*
  fine-tuning. Fine-tuning on 2,000 photos of one source narrows the features to that source:
  pets from other cameras, breeds and framing could fall outside them, while the original
  features still know them as animals. Measured (README, "The pet gate"): it accepts fewer
  non-pet photos than the kNN gate, but gates out as many pets from elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Most training photos kept in the gate (a 2,000 x 1,280 matrix in the model).
MAX_BANK = 2000


#: The gates ``catsort train`` can build, the first the default.
GATE_KINDS = ("knn", "mahalanobis")


@dataclass
class MahalanobisGate:
    """Class means and the Cholesky factor of the shrunk shared covariance's inverse."""

    means: np.ndarray  # (classes, features)
    factor: np.ndarray  # (features, features), lower triangular: precision = factor @ factor.T
    shrinkage: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row to the nearest class mean."""
        projected = np.asarray(features, dtype=np.float64) @ self.factor
        centres = self.means @ self.factor
        squared = ((projected[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        return squared.min(axis=1)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Pet scores in (0, 1]: ``pet_score_from_distance`` of the distances."""
        return pet_score_from_distance(self.distances(features), self.means.shape[1])


def pet_score_from_distance(squared: np.ndarray, dimensions: int) -> np.ndarray:
    """exp(-d / 2n): the Gaussian likelihood's n-th root, 1 at a class mean, falling with d.

    Higher is more pet-like, so classify's rule "pet_score >= threshold" holds as for any gate.
    """
    return np.exp(-np.asarray(squared, dtype=np.float64) / (2.0 * dimensions))


def ledoit_wolf(centred: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf covariance of rows with mean zero: (covariance, shrinkage).

    The sample covariance S is pulled towards mu * I (mu the mean variance) by the shrinkage
    that minimises the expected squared error (Ledoit and Wolf 2004, lemma 3.3); the same
    closed form as scikit-learn's ``LedoitWolf(assume_centered=True)``.
    """
    x = np.asarray(centred, dtype=np.float64)
    n, p = x.shape
    sample = x.T @ x / n
    mu = np.trace(sample) / p
    squares = x**2
    # Mean squared distance of each x x^T from S (the estimator's variance), and of S from mu I.
    beta = ((squares.T @ squares).sum() / n - (sample**2).sum()) / (n * p)
    delta = ((sample - mu * np.eye(p)) ** 2).sum() / p
    shrinkage = 0.0 if delta == 0 else float(min(beta, delta) / delta)
    return (1 - shrinkage) * sample + shrinkage * mu * np.eye(p), shrinkage


def fit_mahalanobis(features: np.ndarray, labels: np.ndarray) -> MahalanobisGate:
    """Class means and the Ledoit-Wolf shared covariance of the features around them."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    covariance, shrinkage = ledoit_wolf(centred)
    factor = np.linalg.cholesky(np.linalg.inv(covariance))
    return MahalanobisGate(means=means, factor=factor, shrinkage=shrinkage)


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


def fit_neighbours(
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
