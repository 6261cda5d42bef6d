"""Turning scores into labels: probabilities, the confidence threshold and the pet gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from catsort.decision import combine_frames, decide
from catsort.metadata import OTHER, UNCERTAIN, ModelMetadata

SIGMOID = ModelMetadata(
    labels=("cat", "dog"),
    input_size=(8, 8),
    activation="sigmoid",
    threshold=0.7,
    gate_threshold=0.4,
)
SOFTMAX = ModelMetadata(
    labels=("cat", "dog", "fox"), input_size=(8, 8), activation="softmax", threshold=0.5
)


@pytest.mark.parametrize(
    ("logit", "label", "confidence"),
    [(3.0, "dog", 0.9526), (-3.0, "cat", 0.9526), (0.2, UNCERTAIN, 0.5498)],
)
def test_sigmoid_logit_gives_second_label_probability(logit, label, confidence):
    prediction = decide(np.array([logit]), 0.9, SIGMOID)
    assert prediction.label == label
    assert prediction.confidence == pytest.approx(confidence, abs=1e-4)
    p_dog = 1 / (1 + math.exp(-logit))
    assert prediction.probabilities == pytest.approx({"cat": 1 - p_dog, "dog": p_dog})
    assert prediction.pet_score == pytest.approx(0.9)


def test_sigmoid_survives_extreme_logits():
    assert decide(np.array([-1000.0]), None, SIGMOID).probabilities["cat"] == 1.0
    assert decide(np.array([1000.0]), None, SIGMOID).probabilities["dog"] == 1.0


def test_softmax_picks_the_largest_logit():
    prediction = decide(np.array([0.0, 1.0, 4.0]), None, SOFTMAX)
    assert prediction.label == "fox"
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    assert prediction.confidence == pytest.approx(math.exp(4) / (1 + math.e + math.exp(4)))
    assert prediction.pet_score is None


def test_softmax_below_threshold_is_uncertain():
    assert decide(np.array([1.0, 1.1, 0.9]), None, SOFTMAX).label == UNCERTAIN


def test_threshold_argument_overrides_metadata():
    assert decide(np.array([1.0]), None, SIGMOID).label == "dog"  # 0.731 >= 0.7
    assert decide(np.array([1.0]), None, SIGMOID, threshold=0.8).label == UNCERTAIN


def test_low_pet_score_is_other_even_when_confident():
    prediction = decide(np.array([6.0]), 0.1, SIGMOID)
    assert prediction.label == OTHER
    assert prediction.confidence > 0.99  # the model's own confidence is still reported


def test_gate_comes_before_the_threshold():
    assert decide(np.array([0.0]), 0.1, SIGMOID).label == OTHER


def test_no_gate_keeps_the_model_label():
    assert decide(np.array([6.0]), 0.1, SIGMOID, use_gate=False).label == "dog"


def test_gate_threshold_argument_overrides_metadata():
    assert decide(np.array([6.0]), 0.5, SIGMOID).label == "dog"
    assert decide(np.array([6.0]), 0.5, SIGMOID, gate_threshold=0.6).label == OTHER


def test_model_without_gate_threshold_never_gates():
    ungated = ModelMetadata(
        labels=("cat", "dog"), input_size=(8, 8), activation="sigmoid", threshold=0.7
    )
    assert decide(np.array([6.0]), 0.0, ungated).label == "dog"


def _clip(logits: list[float], pets: list[float] | None):  # type: ignore[no-untyped-def]
    combined, pet = combine_frames(np.array([[x] for x in logits]), pets and np.array(pets))
    return decide(combined, pet, SIGMOID)


def test_a_clip_where_the_pet_leaves_the_frame_keeps_its_label():
    # Dog in two of three frames, an empty room in the third: the room does not dilute it.
    prediction = _clip([3.0, 3.0, 0.0], [0.9, 0.8, 0.1])
    assert prediction.label == "dog"
    assert prediction.confidence == pytest.approx(1 / (1 + math.exp(-3.0)))
    assert prediction.pet_score == pytest.approx(0.8)


def test_one_pet_like_frame_of_three_does_not_let_a_clip_in():
    assert _clip([3.0, 3.0, 3.0], [0.9, 0.1, 0.2]).label == OTHER


def test_frames_that_disagree_leave_the_clip_uncertain():
    assert _clip([-3.0, 3.0, 0.5], [0.9, 0.9, 0.9]).label == UNCERTAIN


def test_a_clip_of_one_frame_is_decided_as_a_photo():
    assert _clip([-3.0], [0.5]) == decide(np.array([-3.0]), 0.5, SIGMOID)


def test_without_a_gate_every_frame_counts():
    combined, pet = combine_frames(np.array([[1.0], [2.0], [6.0]]), None)
    assert pet is None
    assert combined == pytest.approx([3.0])
