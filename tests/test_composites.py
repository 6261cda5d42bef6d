"""Composite photos for measuring: pets pasted into larger scenes, scenes alone, non-photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from catsort.training import composites
from catsort.training.evaluate import tally
from PIL import Image

from catsort.decision import Prediction
from catsort.pipeline import PhotoResult


def make_others(root: Path, per_class: int = 6) -> Path:
    """Folders of small non-pet photos, as ../shared/data/others has."""
    rng = np.random.default_rng(0)
    for kind in ("car", "person", "flower"):
        (root / kind).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / kind / f"{kind}_{index:04d}.jpg")
    return root


def make_pets(root: Path, per_class: int = 2) -> Path:
    """cats/ and dogs/ of one flat colour each, a portrait among them."""
    for name, colour in (("cats", (200, 60, 50)), ("dogs", (50, 60, 200))):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            size = (120, 200) if index == 0 else (200, 150)
            Image.new("RGB", size, colour).save(root / name / f"{name[:-1]}_{index}.jpg")
    return root


def test_the_halves_of_others_are_fixed_disjoint_and_complete(tmp_path: Path) -> None:
    others = make_others(tmp_path / "others")
    fitting = composites.others_half(others, "fitting")
    measuring = composites.others_half(others, "measuring")
    for kind in ("car", "person", "flower"):
        every = sorted((others / kind).iterdir())
        assert fitting[kind] == every[0::2] and measuring[kind] == every[1::2]
    with pytest.raises(ValueError, match="unknown half"):
        composites.others_half(others, "both")


@pytest.mark.parametrize(
    ("pet", "width", "centre", "expected"),
    [
        ((200, 100), 0.25, (0.5, 0.5), (600, 500, 1000, 700)),
        ((200, 100), 0.60, (0.95, 0.05), (640, 0, 1600, 480)),  # moved inside the frame
        ((100, 300), 0.60, (0.5, 0.5), (320, 60, 1280, 1140)),  # cut to 90 % of the height
    ],
)
def test_the_pet_box_has_the_width_asked_and_stays_in_the_frame(
    pet: tuple[int, int], width: float, centre: tuple[float, float], expected: tuple
) -> None:
    assert composites.pet_box(pet, width, centre, (1600, 1200)) == expected


def test_a_pasted_pet_lies_where_its_box_says(tmp_path: Path) -> None:
    scene = Image.new("RGB", (800, 600), (0, 255, 0))
    pet = Image.new("RGB", (100, 80), (255, 0, 0))
    image, box = composites.paste_pet(scene, pet, 0.4, (0.3, 0.6))
    assert box == pytest.approx((0.1, 232 / 600, 0.5, 488 / 600))  # 320x256, centred at 240, 360
    pixels = np.asarray(image)
    x0, y0, x1, y1 = (round(v * s) for v, s in zip(box, (800, 600, 800, 600)))
    inside = pixels[y0 + 10 : y1 - 10, x0 + 10 : x1 - 10]  # the edge is softened
    assert (inside[..., 0] > 250).all() and (inside[..., 1] < 5).all()
    outside = np.ones(pixels.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert (pixels[outside][:, 1] > 250).all()


def test_a_composite_set_is_the_same_from_the_same_seed(tmp_path: Path) -> None:
    others = composites.others_half(make_others(tmp_path / "others"), "measuring")
    pets = composites.labelled_photos(make_pets(tmp_path / "pets"))
    assert [label for _, label in pets] == ["cat", "dog", "cat", "dog"]
    first = composites.build_composites(
        pets, others, tmp_path / "a", scenes=2, synthetic=False, say=lambda _: None
    )
    again = composites.build_composites(
        pets, others, tmp_path / "b", scenes=2, synthetic=False, say=lambda _: None
    )
    assert len(first) == 4 * 3 + 2 * 3
    for one, two in zip(first, again):
        assert one == two
        assert (tmp_path / "a" / one.path).read_bytes() == (tmp_path / "b" / two.path).read_bytes()
    read = composites.read_manifest(tmp_path / "a")
    assert [(e.truth, e.width, e.scene) for e in read] == [
        (e.truth, e.width, e.scene) for e in first
    ]
    for entry in read:
        assert entry.path.is_file()
        with Image.open(entry.path) as img:
            assert img.size == composites.FRAME
        if entry.truth == composites.NO_PET:
            assert entry.box is None and entry.width is None
        else:
            assert entry.box is not None
            assert entry.box[2] - entry.box[0] == pytest.approx(entry.width, abs=1e-3)


def test_synthetic_non_photos_cover_each_kind() -> None:
    kinds = {kind for kind, _ in composites.synthetic_non_photos(size=240)}
    assert kinds >= {"solid", "noise", "text", "chart", "clip-art", "screenshot"}


def result(label: str, box: tuple | None = None) -> PhotoResult:
    p_dog = {"cat": 0.1, "dog": 0.9}.get(label, 0.7)  # "other" and "uncertain": dog at 0.7
    probabilities = {"cat": 1 - p_dog, "dog": p_dog}
    return PhotoResult(
        Path("x.jpg"), Prediction(label, max(p_dog, 1 - p_dog), probabilities, 0.8, box)
    )


def test_the_tally_counts_each_outcome_and_where_a_region_found_the_pet() -> None:
    pet = (0.5, 0.5, 0.9, 0.9)
    results = [
        result("cat"),
        result("cat", (0.6, 0.6, 0.8, 0.8)),  # found on the pet
        result("dog", (0.0, 0.0, 0.2, 0.2)),  # found elsewhere, and wrong
        result("other"),
        result("uncertain"),
        PhotoResult(Path("bad.jpg"), error="not an image"),  # left out
    ]
    counted = tally(results, "cat", [pet] * 6)
    assert (counted.photos, counted.right, counted.wrong, counted.gated, counted.uncertain) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert (counted.from_region, counted.boxed, counted.on_pet, counted.let_in) == (2, 2, 1, 4)
    assert counted.top == 2  # the most probable label is cat (what the CSV's accuracy counts)
    no_pet = tally(results, None)
    assert (no_pet.wrong, no_pet.let_in) == (3, 4)  # any folder is wrong for a non-pet
