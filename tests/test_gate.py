"""The pet gate: its math without a model, and the shipped model on photos that are no pets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from catsort.training import gate
from PIL import Image, ImageDraw

from catsort.metadata import OTHER


def two_blobs(rng: np.random.Generator, n: int = 400, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative features of two classes (like pooled ReLU activations), in two directions."""
    labels = np.repeat([0, 1], n // 2)
    directions = np.abs(rng.normal(size=(2, d))) + np.eye(2, d) * 4
    strength = rng.uniform(0.5, 3.0, size=(n, 1))
    return np.abs(directions[labels] * strength + rng.normal(0, 0.3, size=(n, d))), labels


def test_ledoit_wolf_matches_the_closed_form_worked_by_hand() -> None:
    # S = diag(2, 0.5), mu = 1.25, |S - mu I|^2 / p = 0.5625, the estimator's variance 0.53125:
    # shrinkage 17/18 (Ledoit and Wolf 2004; what scikit-learn's LedoitWolf gives).
    centred = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    covariance, shrinkage = gate.ledoit_wolf(centred)
    assert shrinkage == pytest.approx(17 / 18)
    np.testing.assert_allclose(covariance, np.diag([23.25 / 18, 21.75 / 18]), rtol=1e-12)


def test_ledoit_wolf_leaves_a_spherical_sample_unshrunk() -> None:
    centred = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    covariance, shrinkage = gate.ledoit_wolf(centred)
    assert shrinkage == 0.0
    np.testing.assert_allclose(covariance, np.eye(2) * 0.5)


def test_ledoit_wolf_shrinks_more_with_fewer_photos_per_feature() -> None:
    rng = np.random.default_rng(4)
    spread = np.linspace(0.2, 3.0, 50)  # far from spherical: shrinking is worth it only when
    few = gate.ledoit_wolf(rng.normal(size=(20, 50)) * spread)[1]  # S itself is noisy
    many = gate.ledoit_wolf(rng.normal(size=(5000, 50)) * spread)[1]
    assert few > 0.3 and many < 0.05


def test_mahalanobis_distance_is_to_the_nearer_class_mean() -> None:
    rng = np.random.default_rng(6)
    features, labels = two_blobs(rng)
    fitted = gate.fit_mahalanobis(features, labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in (0, 1)])
    np.testing.assert_allclose(fitted.means, means)
    centred = features - means[labels]
    covariance, shrinkage = gate.ledoit_wolf(centred)
    assert fitted.shrinkage == pytest.approx(shrinkage)
    precision = np.linalg.inv(covariance)
    np.testing.assert_allclose(fitted.factor @ fitted.factor.T, precision, rtol=1e-6, atol=1e-7)
    probe = rng.uniform(0, 3, size=(5, features.shape[1]))
    expected = np.min(
        [np.einsum("ij,jk,ik->i", probe - m, precision, probe - m) for m in means], axis=0
    )
    np.testing.assert_allclose(fitted.distances(probe), expected, rtol=1e-6)


def test_mahalanobis_distance_is_zero_at_a_class_mean() -> None:
    rng = np.random.default_rng(7)
    features, labels = two_blobs(rng)
    fitted = gate.fit_mahalanobis(features, labels)
    distances = fitted.distances(np.vstack([fitted.means, fitted.means + 1.0]))
    np.testing.assert_allclose(distances[:2], 0.0, atol=1e-9)
    assert (distances[2:] > 0).all()


def test_mahalanobis_gate_separates_held_out_points_from_strangers() -> None:
    rng = np.random.default_rng(8)
    features, labels = two_blobs(rng, n=1200)
    order = rng.permutation(len(features))
    train, held_out = order[:1000], order[1000:]
    fitted = gate.fit_mahalanobis(features[train], labels[train])
    pets = -fitted.distances(features[held_out])
    threshold = gate.score_threshold(pets, 0.02)
    # Features unlike either class: strong in every direction at once.
    strangers = -fitted.distances(np.abs(rng.normal(size=(200, features.shape[1]))) + 2.0)
    assert np.mean(pets < threshold) == pytest.approx(0.02, abs=0.01)
    assert np.mean(strangers < threshold) > 0.95
    assert gate.auroc(pets, strangers) > 0.99


def test_features_that_never_vary_still_give_a_gate() -> None:
    features = np.zeros((20, 5))
    features[:, 0] = np.arange(20) % 2  # one feature varies, four are dead
    fitted = gate.fit_mahalanobis(features, np.arange(20) % 2)
    distances = fitted.distances(np.array([[0.0, 0, 0, 0, 0], [0.0, 1, 0, 0, 0]]))
    assert distances[0] == pytest.approx(0.0, abs=1e-6) and distances[1] > 1e6


def test_out_of_fold_distances_come_from_gates_that_never_saw_the_photo() -> None:
    rng = np.random.default_rng(9)
    features, labels = two_blobs(rng, n=200)
    held = gate.out_of_fold_distances(features, labels, folds=4, seed=1)
    order = np.random.default_rng(1).permutation(len(features))
    fold = order[2::4]
    others = np.setdiff1d(order, fold)
    alone = gate.fit_mahalanobis(features[others], labels[others]).distances(features[fold])
    np.testing.assert_allclose(held[fold], alone, rtol=1e-10)
    # A photo is nearer the gate that was fitted on it.
    assert np.median(gate.fit_mahalanobis(features, labels).distances(features)) < np.median(held)


def test_the_held_out_limit_rejects_about_the_asked_share_of_new_pets() -> None:
    rng = np.random.default_rng(10)
    everything, all_labels = two_blobs(rng, n=4400, d=60)
    order = rng.permutation(len(everything))
    features, labels = everything[order[:300]], all_labels[order[:300]]  # few per feature
    calibration, new_pets = everything[order[300:400]], everything[order[400:]]
    fitted = gate.fit_mahalanobis(features, labels)
    limit = gate.distance_limit(fitted, features, labels, calibration, 0.05)
    rejected = np.mean(fitted.distances(new_pets) > limit)
    assert rejected == pytest.approx(0.05, abs=0.03)
    # The training photos' own distances would set the limit far too tight.
    in_sample = np.quantile(fitted.distances(features), 0.95)
    assert np.mean(fitted.distances(new_pets) > in_sample) > 2 * rejected


def photo_gate(rng: np.random.Generator) -> tuple[gate.PhotoGate, np.ndarray, np.ndarray]:
    content, labels = two_blobs(rng, n=400)
    statistics, _ = two_blobs(rng, n=400, d=6)
    fitted = gate.fit_photo_gate(content, statistics, labels, (content[:50], statistics[:50]), 0.05)
    return fitted, content, statistics


def test_photo_gate_scores_half_at_the_stricter_limit() -> None:
    fitted, content, statistics = photo_gate(np.random.default_rng(11))
    ratios = fitted.ratios(content[:20], statistics[:20])
    expected = np.maximum(
        fitted.content.distances(content[:20]) / fitted.content_limit,
        fitted.statistics.distances(statistics[:20]) / fitted.statistics_limit,
    )
    np.testing.assert_allclose(ratios, expected)
    np.testing.assert_allclose(fitted.scores(content[:20], statistics[:20]), 2.0**-expected)
    assert fitted.statistics_limit > np.quantile(fitted.statistics.distances(statistics), 0.95), (
        "the statistics part rejects a tenth of the rate, so its limit is looser"
    )


def test_photo_gate_needs_both_parts_to_accept() -> None:
    rng = np.random.default_rng(12)
    fitted, _, _ = photo_gate(rng)
    pet_content, pet_statistics = fitted.content.means[:1], fitted.statistics.means[:1]
    odd_content = pet_content + 50.0  # what it shows is unlike any pet ...
    odd_statistics = pet_statistics + 50.0  # ... or its statistics are unlike any photo's
    scores = [
        fitted.scores(pet_content, pet_statistics)[0],
        fitted.scores(odd_content, pet_statistics)[0],
        fitted.scores(pet_content, odd_statistics)[0],
    ]
    assert scores[0] > 0.9 and scores[1] < 0.5 and scores[2] < 0.5


def test_threshold_for_drift_carries_the_float_limits_over() -> None:
    reference = 2.0 ** -np.linspace(0.2, 1.5, 50)
    assert gate.threshold_for_drift(reference, reference) == pytest.approx(0.5)
    # A converted model whose distances are all 10 % larger: its limit sits at 2 ** -1.1.
    assert gate.threshold_for_drift(reference, reference**1.1) == pytest.approx(2.0**-1.1)


def test_scores_are_the_cosine_similarity_to_the_kth_nearest_training_photo() -> None:
    rng = np.random.default_rng(0)
    features, labels = two_blobs(rng)
    fitted = gate.fit_neighbours(features, labels)
    assert fitted.k == 4 and fitted.bank.shape == features.shape
    probe = rng.uniform(0, 1, size=(5, features.shape[1]))
    cosines = (probe @ features.T) / np.outer(
        np.linalg.norm(probe, axis=1), np.linalg.norm(features, axis=1)
    )
    np.testing.assert_allclose(fitted.scores(probe), np.sort(cosines, axis=1)[:, -4], rtol=1e-9)


def test_scores_ignore_how_strong_the_features_are() -> None:
    rng = np.random.default_rng(1)
    features, labels = two_blobs(rng)
    fitted = gate.fit_neighbours(features, labels)
    probe = features[:3] + 0.1
    np.testing.assert_allclose(fitted.scores(probe * 0.01), fitted.scores(probe), rtol=1e-9)


def test_held_out_points_score_above_points_unlike_any_class() -> None:
    rng = np.random.default_rng(2)
    features, labels = two_blobs(rng)
    fitted = gate.fit_neighbours(features, labels)
    held_out, _ = two_blobs(rng, n=200)
    pets = fitted.scores(held_out)
    threshold = gate.score_threshold(pets, 0.02)
    strangers = fitted.scores(np.abs(rng.normal(size=(200, features.shape[1]))))
    assert np.mean(pets < threshold) == pytest.approx(0.02, abs=0.01)
    assert np.mean(strangers < threshold) > 0.95
    assert gate.auroc(pets, strangers) > 0.99


def test_a_large_training_set_keeps_a_balanced_sample_of_photos() -> None:
    rng = np.random.default_rng(3)
    features, labels = two_blobs(rng, n=600)
    fitted = gate.fit_neighbours(features, labels, max_bank=100)
    assert fitted.bank.shape == (100, features.shape[1]) and fitted.k == 1
    np.testing.assert_allclose(np.linalg.norm(fitted.bank, axis=1), 1.0)
    kept = {tuple(np.round(row, 9)) for row in fitted.bank}
    per_class = [
        sum(tuple(np.round(row, 9)) in kept for row in gate.unit_rows(features[labels == c]))
        for c in (0, 1)
    ]
    assert per_class == [50, 50]


def test_neighbour_count_grows_with_the_bank_up_to_twenty() -> None:
    assert [gate.neighbours_for(n) for n in (5, 250, 2000, 50000)] == [1, 2, 20, 20]


def test_score_threshold_rejects_the_asked_share_of_pets() -> None:
    scores = np.linspace(0.0, 1.0, 1001)
    assert gate.score_threshold(scores, 0.02) == pytest.approx(0.02)


def test_auroc_counts_ties_as_half() -> None:
    assert gate.auroc(np.array([1.0, 2.0]), np.array([0.0])) == 1.0
    assert gate.auroc(np.array([1.0]), np.array([1.0])) == 0.5
    assert gate.auroc(np.array([0.0]), np.array([1.0])) == 0.0


def non_photo(name: str) -> Image.Image:
    """Solid colours, noise, a page of text and a white page: nothing like a pet."""
    rng = np.random.default_rng(5)
    if name == "noise":
        return Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    if name.endswith("screenshot"):
        dark = name.startswith("dark")
        text = Image.new("RGB", (900, 600), (30, 30, 30) if dark else "white")
        draw = ImageDraw.Draw(text)
        draw.rectangle([0, 0, 900, 40], fill=(40, 90, 200))
        for line in range(28):
            draw.text(
                (10, 50 + 19 * line),
                "Meeting notes: budget, invoice 2026, total 42.00",
                fill=(220, 220, 220) if dark else "black",
            )
        return text
    colours = {"black": "black", "red": (200, 30, 30), "blue": (30, 60, 200)}
    if name == "white-page":
        return Image.new("RGB", (600, 800), "white")
    return Image.new("RGB", (300, 300), colours[name])


@pytest.mark.parametrize(
    "name",
    [
        "black",
        "red",
        "blue",
        "white-page",
        "noise",
        "screenshot",
        "dark-screenshot",
    ],
)
def test_shipped_model_calls_non_photos_other(tmp_path: Path, name: str) -> None:
    from catsort.model import load_model
    from catsort.pipeline import classify_paths

    classifier = load_model()
    assert classifier.has_gate, "the shipped model must carry the pet gate"
    path = tmp_path / f"{name}.png"
    non_photo(name).save(path)
    [result] = list(classify_paths([path], classifier))
    assert result.prediction.label == OTHER, result.prediction
