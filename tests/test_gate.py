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


def test_scores_are_the_cosine_similarity_to_the_kth_nearest_training_photo() -> None:
    rng = np.random.default_rng(0)
    features, labels = two_blobs(rng)
    fitted = gate.fit_gate(features, labels)
    assert fitted.k == 4 and fitted.bank.shape == features.shape
    probe = rng.uniform(0, 1, size=(5, features.shape[1]))
    cosines = (probe @ features.T) / np.outer(
        np.linalg.norm(probe, axis=1), np.linalg.norm(features, axis=1)
    )
    np.testing.assert_allclose(fitted.scores(probe), np.sort(cosines, axis=1)[:, -4], rtol=1e-9)


def test_scores_ignore_how_strong_the_features_are() -> None:
    rng = np.random.default_rng(1)
    features, labels = two_blobs(rng)
    fitted = gate.fit_gate(features, labels)
    probe = features[:3] + 0.1
    np.testing.assert_allclose(fitted.scores(probe * 0.01), fitted.scores(probe), rtol=1e-9)


def test_held_out_points_score_above_points_unlike_any_class() -> None:
    rng = np.random.default_rng(2)
    features, labels = two_blobs(rng)
    fitted = gate.fit_gate(features, labels)
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
    fitted = gate.fit_gate(features, labels, max_bank=100)
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
