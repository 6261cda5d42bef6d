"""The pet gate: how far a photo's features lie from the training photos' feature distribution.

Each class is a Gaussian in the model's pooled feature space, sharing one covariance matrix
shrunk towards a multiple of the identity (Ledoit-Wolf). A photo's distance is its smallest
squared Mahalanobis distance to a class mean; photos unlike any training photo lie far away.
The distance becomes a pet score in (0, 1]: ``2 ** (-distance / scale)``, so a photo at
``scale`` scores 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GaussianGate:
    """Class means, the whitening matrix (precision = W @ W.T) and the score scale."""

    means: np.ndarray  # (classes, features)
    whitening: np.ndarray  # (features, features)
    shrinkage: float
    scale: float = 1.0

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Smallest squared Mahalanobis distance of each feature row to a class mean."""
        projected = features @ self.whitening  # (n, d)
        centres = self.means @ self.whitening  # (classes, d)
        squared = ((projected[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
        return squared.min(axis=1)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Pet scores in (0, 1]: 1 at a class mean, 0.5 at distance ``scale``."""
        return pet_score(self.distances(features), self.scale)


def pet_score(distances: np.ndarray, scale: float) -> np.ndarray:
    """Map squared distances to scores: 2 ** (-distance / scale)."""
    return np.exp2(-np.asarray(distances, dtype=np.float64) / scale)


def ledoit_wolf(centred: np.ndarray) -> tuple[np.ndarray, float]:
    """Covariance of centred rows shrunk towards mu * I, with the Ledoit-Wolf weight."""
    n, d = centred.shape
    sample = centred.T @ centred / n
    mu = np.trace(sample) / d
    target_gap = sample.copy()
    target_gap[np.diag_indices(d)] -= mu
    delta = (target_gap**2).sum() / d
    # Average squared distance of the per-sample outer products to the sample covariance.
    row_norms = (centred**2).sum(axis=1)
    beta = ((row_norms**2).sum() / n - (sample**2).sum()) / (d * n)
    shrinkage = float(min(max(beta / delta, 0.0), 1.0)) if delta > 0 else 1.0
    covariance = (1 - shrinkage) * sample
    covariance[np.diag_indices(d)] += shrinkage * mu
    return covariance, shrinkage


def fit_gate(features: np.ndarray, labels: np.ndarray) -> GaussianGate:
    """Fit class means and a shared shrunk covariance on training features."""
    features = np.asarray(features, dtype=np.float64)
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    covariance, shrinkage = ledoit_wolf(centred)
    # A floor on the variances keeps the whitening finite when features barely vary (an
    # untrained base); real features have variances orders of magnitude above it.
    covariance[np.diag_indices_from(covariance)] += 1e-4
    # precision = inv(cov) = W @ W.T with W from the Cholesky factor of the covariance.
    cholesky = np.linalg.cholesky(covariance)
    whitening = np.linalg.inv(cholesky).T
    return GaussianGate(means=means, whitening=whitening, shrinkage=shrinkage)


def calibrate_scale(gate: GaussianGate, held_out_features: np.ndarray,
                    reject_rate: float) -> float:
    """Set the scale so that ``reject_rate`` of held-out pets score below 0.5; return it."""
    distances = gate.distances(np.asarray(held_out_features, dtype=np.float64))
    gate.scale = float(np.quantile(distances, 1.0 - reject_rate))
    return gate.scale


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
    return float((positive_ranks - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))
