"""Regions of the photo: where a pet that does not fill the frame is, and when to look again.

The model's last feature maps are grids of cells (7x7 at 224x224), each seeing mostly its own
part of the photo. A linear head on a cell's features (the fine-tuned network's and the
original one's) scores how much that part looks like a pet; averaged over a window of cells,
the same head scores the window (class activation maps, Zhou et al. 2016): no extra pass
through the network. The exported model gives, besides the whole photo's logits and pet
score, every window's ``region_score``. This module says which windows there are and, in pure
numpy, which photos deserve a second look (``catsort.crops``) at which part:

- a photo the whole did not decide (gated out as ``other``, or ``uncertain``) whose most
  pet-like window scores at least ``look_threshold``;
- a photo the whole did decide, but where less than ``min_cover`` of the smallest windows look
  like a pet (a small pet in a larger scene: the whole photo's label is then less sure than it
  seems).

The second look is decided as a whole photo is (the pet gate, then the confidence, at least
``crop_threshold``); it gives the label and the box. A photo decided whole whose second look
decides nothing becomes ``uncertain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1, relative to the photo


@dataclass(frozen=True)
class Window:
    """A square of ``size`` x ``size`` cells of the feature map, its top left at (row, col)."""

    row: int
    col: int
    size: int

    def box(self, grid: int) -> Box:
        """The part of the photo it covers: (x0, y0, x1, y1) relative to the photo."""
        return (
            self.col / grid,
            self.row / grid,
            (self.col + self.size) / grid,
            (self.row + self.size) / grid,
        )


def windows(grid: int, sizes: Sequence[int]) -> list[Window]:
    """Every window of each size in ``sizes`` that fits in a ``grid`` x ``grid`` map, by size
    then row then column."""
    return [
        Window(row, col, size)
        for size in sizes
        if 0 < size <= grid
        for row in range(grid - size + 1)
        for col in range(grid - size + 1)
    ]


def pooling_matrix(grid: int, sizes: Sequence[int]) -> np.ndarray:
    """The averaging weights of each window over the map's cells: (windows, grid * grid).

    Row r holds 1/n at the n cells of window r, in row-major order, so that
    ``matrix @ map.reshape(grid * grid, channels)`` gives each window's mean features.
    """
    chosen = windows(grid, sizes)
    matrix = np.zeros((len(chosen), grid * grid), dtype=np.float32)
    for index, window in enumerate(chosen):
        mask = np.zeros((grid, grid), dtype=np.float32)
        mask[window.row : window.row + window.size, window.col : window.col + window.size] = 1.0
        matrix[index] = mask.reshape(-1) / mask.sum()
    return matrix


@dataclass(frozen=True)
class RegionSettings:
    """The windows an exported model scores, and when a photo gets a second look (metadata)."""

    grid: int  # the feature map's side in cells
    sizes: tuple[int, ...]  # window sides, in cells; the smallest measures the pet's cover
    look_threshold: float  # region score an undecided photo's best window needs for a look
    min_cover: float  # a decided photo with less of its smallest windows pet-like is looked at
    margin: float  # the second look's box: the best window, this many times as wide and high
    crop_threshold: float  # confidence the second look needs (at least the model's threshold)
    cover_threshold: float = 0.0  # region score from which a window counts as pet-like

    @property
    def boxes(self) -> list[Box]:
        """Each window's box, in the order of the model's region scores."""
        return [window.box(self.grid) for window in windows(self.grid, self.sizes)]

    def to_dict(self) -> dict:
        """The metadata's ``regions`` entry."""
        return {
            "grid": self.grid,
            "sizes": list(self.sizes),
            "look_threshold": self.look_threshold,
            "min_cover": self.min_cover,
            "margin": self.margin,
            "crop_threshold": self.crop_threshold,
            "cover_threshold": self.cover_threshold,
        }


def cover(scores: np.ndarray, settings: RegionSettings) -> float:
    """The share of the smallest windows that look like a pet."""
    smallest = min(settings.sizes)
    chosen = [w.size == smallest for w in windows(settings.grid, settings.sizes)]
    values = np.asarray(scores, dtype=np.float64).reshape(-1)[chosen]
    return float((values >= settings.cover_threshold).mean()) if values.size else 0.0


def look_box(scores: np.ndarray, settings: RegionSettings) -> Box:
    """The part of the photo to look at again: the most pet-like window, ``margin`` times as
    wide and high around its centre, moved inside the photo."""
    x0, y0, x1, y1 = settings.boxes[int(np.argmax(scores))]
    width, height = min((x1 - x0) * settings.margin, 1.0), min((y1 - y0) * settings.margin, 1.0)
    left = min(max((x0 + x1 - width) / 2, 0.0), 1.0 - width)
    top = min(max((y0 + y1 - height) / 2, 0.0), 1.0 - height)
    return (left, top, left + width, top + height)


def wants_look(decided: bool, scores: np.ndarray, settings: RegionSettings) -> bool:
    """Tell whether a photo deserves a second look: undecided with a pet-like window, or
    decided with little of it pet-like (``decided``: the whole photo gave a model label)."""
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return False
    if decided:
        return cover(values, settings) < settings.min_cover
    return float(values.max()) >= settings.look_threshold


@dataclass(frozen=True)
class Look:
    """What the model said about the part ``box`` of a photo, before any threshold."""

    box: Box
    logits: tuple[float, ...]
    pet_score: float | None
