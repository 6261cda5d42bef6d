"""A second look at a part of the photo: a pet that does not fill the frame is found.

With the tiny regions model (tests/models/make_tiny_models.py): red is a cat, blue a dog, green
is no pet; each quarter of the photo has a region score, red and blue quarters look like a pet,
grey and green ones do not. A photo is 64x64 here, so that a quarter read again holds as much
as the whole photo (8x8 for the tiny model) and more.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from conftest import BLUE, GREEN, GREY, RED
from PIL import Image
from typer.testing import CliRunner

from catsort.cache import Known
from catsort.cli import app
from catsort.crops import load_crop
from catsort.errors import CatsortError
from catsort.looks import decide_photos
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier, load_model
from catsort.pipeline import classify_contents, classify_paths

runner = CliRunner()
TOP_LEFT = (0.0, 0.0, 0.5, 0.5)


def quartered(path: Path, rest: tuple, top_left: tuple) -> Path:
    """A 64x64 photo of one colour with another in its top left quarter."""
    image = Image.new("RGB", (64, 64), rest)
    image.paste(Image.new("RGB", (32, 32), top_left), (0, 0))
    image.save(path)
    return path


@pytest.fixture(scope="module")
def classifier(tiny_models) -> Classifier:
    return load_model(tiny_models["regions"], threads=1)


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """How many images each call of the model is given."""
    seen: list[int] = []
    predict = Classifier.predict
    monkeypatch.setattr(
        Classifier, "predict", lambda self, batch: seen.append(len(batch)) or predict(self, batch)
    )
    return seen


@pytest.mark.parametrize(
    ("rest", "pet", "label", "box", "why"),
    [
        (GREEN, RED, "cat", TOP_LEFT, "gated out whole: the cat is a quarter of the photo"),
        (GREY, RED, "cat", TOP_LEFT, "decided whole, but the pet covers a quarter only"),
        (GREEN, BLUE, "dog", TOP_LEFT, "gated out whole: the dog is a quarter of the photo"),
        (GREEN, GREEN, OTHER, None, "no pet anywhere: no second look"),
        (RED, RED, "cat", None, "a pet filling the frame: decided whole"),
    ],
)
def test_a_pet_in_a_part_of_the_photo_is_found_with_its_box(
    tmp_path, classifier, counted, rest, pet, label, box, why
):
    path = quartered(tmp_path / "photo.png", rest, pet)
    [result] = classify_paths([path], classifier)
    assert (result.label, result.prediction.box) == (label, box), why
    assert sum(counted) == (1 if box is None else 2), "one look more only where it was needed"
    if box is not None:
        assert result.confidence > 0.99 and result.pet_score > 0.9  # the part's own scores


def test_a_second_look_that_decides_nothing_leaves_a_decided_photo_uncertain(tmp_path, classifier):
    # Whole: a cat at 0.67 (sure enough); its one pet-like quarter alone: a dog at 0.73 only.
    path = quartered(tmp_path / "photo.png", (140, 100, 100), (128, 0, 160))
    [result] = classify_paths([path], classifier)
    assert (result.label, result.prediction.box) == (UNCERTAIN, None)
    assert result.probabilities["cat"] == pytest.approx(0.67, abs=0.01)  # the whole's


def test_without_the_gate_there_is_no_second_look(tmp_path, classifier, counted):
    path = quartered(tmp_path / "photo.png", GREEN, RED)
    [result] = classify_paths([path], classifier, use_gate=False)
    assert (result.label, result.prediction.box, sum(counted)) == ("cat", None, 1)


def test_photos_read_from_bytes_are_looked_at_from_their_bytes(tmp_path, classifier):
    far = quartered(tmp_path / "far.png", GREEN, BLUE).read_bytes()
    near = quartered(tmp_path / "near.png", BLUE, BLUE).read_bytes()
    results = classify_contents(["s3://b/far.png", "s3://b/near.png"], [far, near], classifier)
    assert [(r.label, r.prediction.box) for r in results] == [("dog", TOP_LEFT), ("dog", None)]


def test_a_part_that_cannot_be_read_again_leaves_the_whole_photos_label(classifier):
    scored = Known((8.0 * (0.078 - 0.902),), 0.32, region_scores=(2.4, -12.0, -12.0, -12.0))

    def unreadable(index: int, box: tuple) -> np.ndarray:
        raise CatsortError("x.jpg: cannot read a part of the photo (gone)")

    [(prediction, known)] = decide_photos([scored], classifier, unreadable)
    assert (prediction.label, prediction.box, known.look) == (OTHER, None, None)


def test_the_cache_keeps_the_second_look_and_the_csv_the_box(tmp_path, tiny_models, counted):
    photos = tmp_path / "photos"
    photos.mkdir()
    quartered(photos / "far.png", GREEN, RED)
    quartered(photos / "near.png", RED, RED)
    model = tiny_models["regions"]
    first = runner.invoke(app, ["classify", str(photos), "--model", str(model), "--csv", "-"])
    assert first.exit_code == 0, first.output
    assert sum(counted) == 3  # two photos, one second look
    counted.clear()
    again = runner.invoke(app, ["classify", str(photos), "--model", str(model), "--csv", "-"])
    assert sum(counted) == 0, "nothing read again, not even the part"
    for output in (first.stdout, again.stdout):
        rows = {Path(row["path"]).name: row for row in csv.DictReader(io.StringIO(output))}
        assert (rows["far.png"]["label"], rows["far.png"]["box"]) == (
            "cat",
            "0.000 0.000 0.500 0.500",
        )
        assert (rows["near.png"]["label"], rows["near.png"]["box"]) == ("cat", "")
    assert {row["cached"] for row in csv.DictReader(io.StringIO(again.stdout))} == {"yes"}


def test_a_part_is_read_at_the_resolution_it_needs(tmp_path):
    image = np.zeros((400, 600, 3), np.uint8)
    image[200:, 300:] = (0, 0, 255)  # the bottom right quarter is blue
    image[300:, 450:] = (255, 0, 0)  # and its bottom right quarter red
    path = tmp_path / "big.jpg"
    Image.fromarray(image).save(path, quality=95)
    part = load_crop(path, (0.5, 0.5, 1.0, 1.0), (20, 30))
    assert part.shape == (20, 30, 3)
    assert part[2, 2, 2] > 200 and part[2, 2, 0] < 60  # blue at its top left
    assert part[-2, -2, 0] > 200 and part[-2, -2, 2] < 60  # red at its bottom right
    with pytest.raises(CatsortError, match="cannot read a part"):
        load_crop(tmp_path / "gone.jpg", (0.0, 0.0, 1.0, 1.0), (8, 8))
