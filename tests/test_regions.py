"""Regions of the photo: the windows, their pooling and boxes, and which photos get a look."""

from __future__ import annotations

import numpy as np
import pytest

from catsort.regions import RegionSettings, Window, cover, look_box, pooling_matrix, wants_look
from catsort.regions import windows as windows_of


def test_windows_cover_every_place_each_size_fits() -> None:
    chosen = windows_of(4, (2, 3))
    assert len(chosen) == 9 + 4
    assert chosen[0] == Window(0, 0, 2) and chosen[8] == Window(2, 2, 2)
    assert chosen[9:] == [Window(0, 0, 3), Window(0, 1, 3), Window(1, 0, 3), Window(1, 1, 3)]
    assert windows_of(4, (5,)) == []  # too big for the map


def test_a_window_box_is_its_part_of_the_photo() -> None:
    assert Window(1, 2, 3).box(7) == pytest.approx((2 / 7, 1 / 7, 5 / 7, 4 / 7))


def test_pooling_gives_each_window_the_mean_of_its_cells() -> None:
    rng = np.random.default_rng(0)
    feature_map = rng.normal(size=(5, 5, 3))
    pooled = pooling_matrix(5, (2, 3)) @ feature_map.reshape(25, 3)
    for index, window in enumerate(windows_of(5, (2, 3))):
        r, c, s = window.row, window.col, window.size
        expected = feature_map[r : r + s, c : c + s].mean(axis=(0, 1))
        np.testing.assert_allclose(pooled[index], expected, rtol=1e-5)


# A 4x4 map: nine windows of 2x2 cells and four of 3x3.
SETTINGS = RegionSettings(
    grid=4, sizes=(2, 3), look_threshold=2.0, min_cover=0.5, margin=1.5, crop_threshold=0.9
)


def scores(**at: float) -> np.ndarray:
    """Region scores of -5 but at the windows named w<index>."""
    values = np.full(13, -5.0)
    for name, value in at.items():
        values[int(name[1:])] = value
    return values


def test_the_look_is_at_the_best_window_grown_by_the_margin_inside_the_photo() -> None:
    # Window 4 is the 2x2 one at row 1, column 1: (0.25, 0.25)-(0.75, 0.75), grown 1.5 times.
    assert look_box(scores(w4=3.0), SETTINGS) == pytest.approx((0.125, 0.125, 0.875, 0.875))
    # Window 0, at the top left corner, grown, is moved back inside.
    assert look_box(scores(w0=3.0, w4=1.0), SETTINGS) == pytest.approx((0.0, 0.0, 0.75, 0.75))


@pytest.mark.parametrize(
    ("decided", "values", "looked", "why"),
    [
        (False, scores(w4=2.5), True, "undecided, with a window over the look threshold"),
        (False, scores(w4=1.5), False, "undecided, no window pet-like enough"),
        (True, scores(w4=2.5), True, "decided, but one small window of nine is a pet"),
        (True, np.full(13, 1.0), False, "decided, and the pet fills the frame"),
        (True, scores(w0=1, w1=1, w2=1, w3=1, w4=1), False, "decided, five of nine: over half"),
        (False, np.zeros(0), False, "a model without regions"),
    ],
)
def test_which_photos_deserve_a_second_look(decided, values, looked, why) -> None:
    assert wants_look(decided, values, SETTINGS) is looked, why


def test_the_cover_counts_the_smallest_windows_only() -> None:
    assert cover(scores(w4=0.0, w9=3.0, w10=3.0), SETTINGS) == pytest.approx(1 / 9)
