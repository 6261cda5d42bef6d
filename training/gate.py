"""The pet gate: how close a photo's features come to the training photos' features.

Two gates, both fitted on the training photos' pooled MobileNetV2 features:

- ``NeighbourGate`` (shipped, the default): cosine similarity to the k-th most similar training
  photo (deep nearest neighbours, Sun et al. 2022), on the fine-tuned features.
- ``PhotoGate`` (``--gate mahalanobis``): two Mahalanobis distances (to the nearer of the class
  means, under one covariance shared by the classes and shrunk towards a multiple of the
  identity, Ledoit and Wolf 2004), and a photo passes only if both are within their limits:

  - *what the photo shows*: the pooled features of the ImageNet MobileNetV2 *before*
    fine-tuning. Fine-tuning on 2,000 photos of one source narrows the features to that source,
    so pets from other cameras, breeds and framing fall outside them; the original features
    still know them as animals.
  - *that it is a photo*: the per-channel mean and spread of a low frozen layer
    (``STATISTICS_LAYER``). Text screenshots, flat colours and noise sit near enough to pets in
    the high features to pass the first test, but their low-level statistics are unlike any
    camera photo's.

  Each limit is the distance that ``reject_rate`` of held-out pets exceed, estimated on the
  training photos' out-of-fold distances and the calibration photos together (2,500 photos
  rather than 500: the 1 % quantile of 500 photos moved by a quarter between halves of the
  validation set). Measured in README, "The pet gate".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Most training photos kept in the gate (a 2,000 x 1,280 matrix in the model).
MAX_BANK = 2000


#: The gates ``catsort train`` can build, the first the default.
GATE_KINDS = ("knn", "mahalanobis")

#: The frozen MobileNetV2 layer whose per-channel statistics tell a photo from a non-photo.
STATISTICS_LAYER = "block_3_project_BN"

#: The statistics part rejects this share of the reject rate's pets (it is only for non-photos).
STATISTICS_SHARE = 0.1

#: Folds for the out-of-fold distances of the training photos.
FOLDS = 5


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
    # Features that never vary (dead channels, or a model with random weights) would leave
    # the covariance singular; a ridge far below any real variance keeps it invertible.
    ridge = max(float(np.trace(covariance)) / len(covariance) * 1e-9, 1e-12)
    factor = np.linalg.cholesky(np.linalg.inv(covariance + ridge * np.eye(len(covariance))))
    return MahalanobisGate(means=means, factor=factor, shrinkage=shrinkage)


def out_of_fold_distances(
    features: np.ndarray, labels: np.ndarray, folds: int = FOLDS, seed: int = 0
) -> np.ndarray:
    """Each training photo's distance under a gate fitted on the other folds (so held out)."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(features))
    distances = np.empty(len(features))
    for fold in range(folds):
        held = order[fold::folds]
        kept = np.setdiff1d(order, held)
        distances[held] = fit_mahalanobis(features[kept], labels[kept]).distances(features[held])
    return distances


def distance_limit(
    fitted: MahalanobisGate,
    features: np.ndarray,
    labels: np.ndarray,
    calibration: np.ndarray,
    reject_rate: float,
    seed: int = 0,
) -> float:
    """The distance that ``reject_rate`` of held-out pets exceed: out-of-fold training photos
    and the calibration photos together."""
    held_out = np.concatenate(
        [out_of_fold_distances(features, labels, seed=seed), fitted.distances(calibration)]
    )
    # Above zero even when every held-out distance is zero (features that never vary).
    return max(float(np.quantile(held_out, 1.0 - reject_rate)), 1e-12)


@dataclass
class PhotoGate:
    """A Mahalanobis gate on what the photo shows and one on its low-level statistics.

    Pet score ``2 ** -r``, r the larger of the two distances over its limit: 0.5 where the
    stricter part reaches its limit, so the float model's threshold is 0.5.
    """

    content: MahalanobisGate  # pooled features of the original MobileNetV2
    content_limit: float
    statistics: MahalanobisGate  # per-channel mean and spread of STATISTICS_LAYER
    statistics_limit: float

    def ratios(self, content: np.ndarray, statistics: np.ndarray) -> np.ndarray:
        """Each photo's larger distance-to-limit ratio (1 at the limit)."""
        return np.maximum(
            self.content.distances(content) / self.content_limit,
            self.statistics.distances(statistics) / self.statistics_limit,
        )

    def scores(self, content: np.ndarray, statistics: np.ndarray) -> np.ndarray:
        """Pet scores in (0, 1]: 2 ** -ratio."""
        return np.exp2(-self.ratios(content, statistics))


def fit_photo_gate(
    content: np.ndarray,
    statistics: np.ndarray,
    labels: np.ndarray,
    calibration: tuple[np.ndarray, np.ndarray],
    reject_rate: float,
    seed: int = 0,
) -> PhotoGate:
    """Fit both parts on the training photos; set their limits on held-out pets.

    ``calibration`` is the calibration photos' (content, statistics) features. The content part
    takes the reject rate; the statistics part a tenth of it, since it is there for non-photos.
    """
    content_gate = fit_mahalanobis(content, labels)
    statistics_gate = fit_mahalanobis(statistics, labels)
    return PhotoGate(
        content=content_gate,
        content_limit=distance_limit(
            content_gate, content, labels, calibration[0], reject_rate, seed
        ),
        statistics=statistics_gate,
        statistics_limit=distance_limit(
            statistics_gate,
            statistics,
            labels,
            calibration[1],
            reject_rate * STATISTICS_SHARE,
            seed,
        ),
    )


def threshold_for_drift(reference: np.ndarray, scores: np.ndarray) -> float:
    """The threshold on a converted model's scores that matches the float limits (score 0.5).

    int8 shifts the distances a little; the median ratio of the converted model's ratios to
    the float ones, over the same photos, carries the limits over without re-estimating a
    1 % quantile from 500 photos.
    """
    float_ratios = -np.log2(np.clip(np.asarray(reference, dtype=np.float64), 1e-300, 1.0))
    ratios = -np.log2(np.clip(np.asarray(scores, dtype=np.float64), 1e-300, 1.0))
    drift = float(np.median(ratios / np.maximum(float_ratios, 1e-12)))
    return float(2.0**-drift)


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
