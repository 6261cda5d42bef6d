"""Regions in the exported model: the pet map on the last feature maps, and its thresholds.

The exported model scores every window of its last feature maps (``catsort.regions``) with a
linear head on the features of the fine-tuned network and of the original one (the gate's
branch): how much that part of the photo looks like a pet. The head is fitted on composites
(``composites.fitting_composites``): the training photos' pets pasted into scenes made of the
*fitting* half of the non-pet photos (``composites.others_half``), the window on each pet
against the windows away from it, the scenes without a pet and the fitting half's photos. The
measuring half, and ``pets-elsewhere``, never take part.

Its thresholds are set on each converted model's own scores, as the confidence threshold is:
the look threshold so that ``LOOK_RATE`` of the fitting non-pet photos get a second look
(that is what a second look costs on a library of non-pets), and the second look's confidence
threshold so that its labels on the fitting composites are ``CROP_TARGET`` right, never below
the model's own threshold for whole photos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from catsort.crops import load_crop
from catsort.errors import CatsortError
from catsort.images import load_image
from catsort.regions import Box, RegionSettings, look_box, pooling_matrix, windows

from . import composites

#: Window sides on the 7x7 map (at 224x224): 2 to 4 cells, a quarter to over half the photo.
SIZES = (2, 3, 4)
#: The second look's box: the best window, this many times as wide and high.
MARGIN = 1.3
#: A photo decided whole but with less than this share of its smallest windows pet-like (a
#: small pet in a scene) is looked at again; whole photos of pets are over it (1 in 300 of the
#: validation photos is not).
MIN_COVER = 0.5
#: The share of fitting non-pet photos the look threshold lets through to a second look. At
#: 0.1 a library of 10 % pets in 1600x1200 scenes gave 22 % of its photos a look (streets 43 %)
#: and took 1.34x the time of a model without regions; at the threshold 0.06 gives (1.0 on the
#: 2026-12-05 run), 17 % (streets 29 %), for 3 points fewer pets at a quarter of the width.
LOOK_RATE = 0.06
#: How right the second looks acted on must be on the fitting composites. Not the whole
#: photos' 99.5 %: the second looks of the base run's int8 model were 98.6 % right at any
#: confidence, so the threshold for 99.5 % rests on the last dozen mistakes of 1,951 and moved
#: from 0.887 to 0.960 between halves of them (0.946 on all); for 99 % it is 0.63-0.65 on
#: either half, below the model's own threshold, which then applies. The issue allows 2 % of
#: pets in the wrong folder at each size.
CROP_TARGET = 0.99
#: The head's L2 penalty per photo, on standardized features.
L2 = 0.001
#: How many of the fitting half's non-pet photos, and scenes with no pet, the head is fitted on.
OTHERS = 1200
SCENES = 600
#: Windows away from the pet taken from each composite as examples of what is not a pet, and
#: windows taken from each scene or non-pet photo.
AWAY = 4
ELSEWHERE = 6


class RegionScore(keras.layers.Layer):
    """Each window's score: a linear head on every cell's features, averaged over the window.

    Averaging is linear, so the head runs once per cell (49 dot products at 224x224) and the
    windows are one small matrix product: no extra pass through the network. The head is a 1x1
    convolution on each map, which the int8 model runs in int8 on the maps as they are; a
    matrix product on their concatenation ran in float (``export.GATE_FLOAT_OPS``) and had both
    7x7x1280 maps dequantized for it, 4 % of a photo's model time.
    """

    def __init__(self, kernel: np.ndarray, bias: float, grid: int, sizes, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel = np.asarray(kernel, np.float32).reshape(-1)
        self.bias = float(bias)
        self.pooling = tf.constant(pooling_matrix(grid, sizes).T)  # (cells, windows)
        self.cells = grid * grid

    def call(self, fine_map: tf.Tensor, branch_map: tf.Tensor) -> tf.Tensor:
        channels = fine_map.shape[-1]
        fine = tf.constant(self.kernel[:channels].reshape(1, 1, -1, 1))
        branch = tf.constant(self.kernel[channels:].reshape(1, 1, -1, 1))
        cells = tf.nn.conv2d(fine_map, fine, 1, "VALID") + tf.nn.conv2d(
            branch_map, branch, 1, "VALID"
        )
        return tf.matmul(tf.reshape(cells, (-1, self.cells)), self.pooling) + self.bias


@dataclass
class RegionHead:
    """The fitted head: a kernel over [fine-tuned, original] features and a bias."""

    kernel: np.ndarray  # (2 * features,)
    bias: float
    grid: int
    sizes: tuple[int, ...] = SIZES

    def layer(self) -> RegionScore:
        """The head as a layer of the exported graph."""
        return RegionScore(self.kernel, self.bias, self.grid, self.sizes, name="region_score")

    def scores(self, fine_maps: np.ndarray, branch_maps: np.ndarray) -> np.ndarray:
        """Window scores of feature maps (N, grid, grid, C) each, in numpy."""
        both = np.concatenate([fine_maps, branch_maps], axis=-1).astype(np.float32)
        cells = both.reshape(len(both), self.grid * self.grid, -1) @ self.kernel
        return cells @ pooling_matrix(self.grid, self.sizes).T + self.bias


@dataclass
class FittingSet:
    """Photos to fit and calibrate the regions on, as JPEG bytes (or files)."""

    composites: list[tuple[bytes, int, Box]]  # a training pet in a scene: bytes, class, box
    scenes: list[bytes]  # no pet
    others: list[Path]  # the fitting half of the non-pet photos


def check_others(folder: Path) -> None:
    """Refuse, before any training, an ``--others`` that holds no folders of photos."""
    if not folder.is_dir() or not any(composites.others_half(folder, "fitting").values()):
        raise CatsortError(
            f"{folder}: --others needs a folder of non-pet photo folders (car/, person/, ...)"
        )


def fitting_set(
    pets: list[tuple[Path, int]], others_folder: Path, seed: int, say: Callable[[str], None]
) -> FittingSet:
    """Composites of the training pets in scenes of the fitting half, scenes, and photos."""
    others = composites.others_half(others_folder, "fitting")
    say(f"Making {len(pets)} composites of the training pets, and scenes, to fit on ...")
    labelled = [(path, str(label)) for path, label in pets]
    made = [
        (data, int(label), box)
        for data, label, box in composites.fitting_composites(labelled, others, seed=seed)
    ]
    count = min(SCENES, len(pets))  # a small training set (a test's) needs fewer
    scenes = [data for data, _ in composites.fitting_scenes(others, count, seed=seed + 1)]
    photos = [path for group in others.values() for path in group]
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(photos), min(OTHERS, len(photos), 2 * len(pets)), replace=False))
    return FittingSet(made, scenes, [photos[i] for i in chosen])


def _pixels(data: list[bytes], size: tuple[int, int]) -> np.ndarray:
    return np.stack([load_image("composite.jpg", size, item) for item in data])


def _overlap(box: Box, grid: int, sizes) -> np.ndarray:
    """Each window's share of its area that lies on ``box``."""
    result = []
    for window in windows(grid, sizes):
        x0, y0, x1, y1 = window.box(grid)
        w = max(0.0, min(x1, box[2]) - max(x0, box[0]))
        h = max(0.0, min(y1, box[3]) - max(y0, box[1]))
        result.append(w * h / ((x1 - x0) * (y1 - y0)))
    return np.array(result)


def fit_region_head(
    maps: keras.Model,
    train_batches: Iterable[np.ndarray],
    fitting: FittingSet,
    size: tuple[int, int],
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> RegionHead:
    """Fit the pet map's head on the maps ``maps`` gives (outputs ``fine_map``, ``branch_map``).

    A pet: the window most on each composite's pet, and each training photo whole. Not a pet:
    ``AWAY`` windows off the pet in each composite, and ``ELSEWHERE`` windows of each scene and
    photo, and each whole. Weighted so both sides count the same.
    """
    say("Fitting the pet map on the composites' windows ...")
    rng = np.random.default_rng(seed)

    def run(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = maps.predict(images.astype(np.float32), batch_size=32, verbose=0)
        return out["fine_map"], out["branch_map"]

    pooling = None
    positives, negatives = [], []

    def windows_of(fine: np.ndarray, branch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nonlocal pooling
        both = np.concatenate([fine, branch], axis=-1).astype(np.float32)
        grid = both.shape[1]
        if pooling is None:
            pooling = pooling_matrix(grid, SIZES)
        flat = both.reshape(len(both), grid * grid, -1)
        return np.einsum("wc,ncf->nwf", pooling, flat), flat.mean(axis=1)

    grid = 0
    for start in range(0, len(fitting.composites), 64):
        chunk = fitting.composites[start : start + 64]
        fine, branch = run(_pixels([data for data, _, _ in chunk], size))
        grid = fine.shape[1]
        per_window, _ = windows_of(fine, branch)
        for row, (_, _, box) in enumerate(chunk):
            share = _overlap(box, grid, SIZES)
            positives.append(per_window[row, int(np.argmax(share))])
            away = np.flatnonzero(share < 0.05)
            for index in rng.choice(away, min(AWAY, len(away)), replace=False):
                negatives.append(per_window[row, index])
    for batch in train_batches:  # the training photos, a batch at a time (streamed)
        _, whole = windows_of(*run(batch))
        positives.extend(whole)
    others = np.stack([load_image(path, size) for path in fitting.others])
    for images in (_pixels(fitting.scenes, size), others):
        for start in range(0, len(images), 64):
            per_window, whole = windows_of(*run(images[start : start + 64]))
            for row in range(len(per_window)):
                count = min(ELSEWHERE, per_window.shape[1])
                picked = rng.choice(per_window.shape[1], count, replace=False)
                negatives.extend(per_window[row, picked])
            negatives.extend(whole)
    features = np.concatenate([np.stack(positives), np.stack(negatives)])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    weights = np.where(labels == 1, len(negatives) / len(positives), 1.0)
    kernel, bias = _logistic(features, labels, weights, seed)
    return RegionHead(kernel, bias, grid)


def _logistic(
    features: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int
) -> tuple[np.ndarray, float]:
    """L2-penalized logistic regression on standardized features, folded back to raw ones."""
    mean, spread = features.mean(axis=0), features.std(axis=0) + 1e-6
    keras.utils.set_random_seed(seed)
    dense = keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(L2))
    head = keras.Sequential([keras.Input((features.shape[1],)), dense])
    head.compile(keras.optimizers.Adam(0.01), keras.losses.BinaryCrossentropy(from_logits=True))
    head.fit(
        ((features - mean) / spread).astype(np.float32),
        labels.astype(np.float32),
        sample_weight=weights.astype(np.float32),
        batch_size=4096,
        epochs=200,
        verbose=0,
    )
    kernel, bias = dense.get_weights()
    kernel = kernel[:, 0] / spread
    return kernel.astype(np.float32), float(bias[0] - mean @ kernel)


def calibrate(
    classifier,
    head: RegionHead,
    fitting: FittingSet,
    say: Callable[[str], None] = print,
) -> RegionSettings:
    """The region settings of one converted model (a ``catsort.model.Classifier`` of it),
    thresholds set on its own scores over the fitting set."""
    from .export import confidence_threshold, probabilities

    metadata = classifier.metadata
    size = metadata.input_size
    say("Setting the second look's thresholds on the fitting composites ...")
    settings = RegionSettings(
        grid=head.grid,
        sizes=head.sizes,
        look_threshold=0.0,
        min_cover=MIN_COVER,
        margin=MARGIN,
        crop_threshold=metadata.threshold,
    )
    non_pets = [*_pixels(fitting.scenes, size), *(load_image(p, size) for p in fitting.others)]
    best = []
    for start in range(0, len(non_pets), 32):
        out = classifier.predict(np.stack(non_pets[start : start + 32]))
        best.extend(out.region_score.max(axis=1))
    look = float(np.quantile(best, 1.0 - LOOK_RATE))
    crops, truth = [], []
    for start in range(0, len(fitting.composites), 32):
        chunk = fitting.composites[start : start + 32]
        out = classifier.predict(_pixels([data for data, _, _ in chunk], size))
        for row, (data, label, _) in enumerate(chunk):
            part = load_crop("composite.jpg", look_box(out.region_score[row], settings), size, data)
            if part is not None:  # a look classify would take
                crops.append(part)
                truth.append(label)
    if not crops:  # no part large enough in any composite: no look ever decides
        raise CatsortError(
            f"the fitting composites give no part at the model's size {size}: "
            "train at a smaller --img-size, or without --others"
        )
    logits, scores = [], []
    for start in range(0, len(crops), 32):
        out = classifier.predict(np.stack(crops[start : start + 32]))
        logits.append(out.logits)
        scores.append(out.pet_score)
    probs = probabilities(np.concatenate(logits))
    passed = np.concatenate(scores) >= (metadata.gate_threshold or 0.0)
    crop = confidence_threshold(probs[passed], np.array(truth)[passed], CROP_TARGET)
    return RegionSettings(
        grid=head.grid,
        sizes=head.sizes,
        look_threshold=round(look, 4),
        min_cover=MIN_COVER,
        margin=MARGIN,
        crop_threshold=round(max(crop, metadata.threshold), 6),
    )


def add_regions(
    path: Path, head: RegionHead, fitting: FittingSet, say: Callable[[str], None] = print
) -> RegionSettings:
    """Set the regions' thresholds of the converted model at ``path`` and write them into its
    metadata (beside it), with how they were made."""
    from dataclasses import replace

    from catsort.metadata import load_metadata
    from catsort.model import load_model

    metadata_path = path.with_suffix(".json")
    metadata = load_metadata(metadata_path)
    provisional = RegionSettings(head.grid, head.sizes, 0.0, MIN_COVER, MARGIN, 1.0)
    replace(metadata, regions=provisional).save(metadata_path)
    settings = calibrate(load_model(path), head, fitting, say)
    info = {**metadata.info, "regions": region_info(head)}
    replace(metadata, regions=settings, info=info).save(metadata_path)
    return settings


def region_info(head: RegionHead) -> dict:
    """What the metadata says about how the regions were made (beside their settings)."""
    return {
        "method": "a linear head on each cell of the last feature maps (the fine-tuned "
        "network's and the original one's), averaged over windows of "
        f"{'/'.join(map(str, head.sizes))} cells; fitted on composites of the training pets in "
        "scenes of the fitting half of the non-pet photos; a photo the whole does not decide, "
        f"with a window over the look threshold ({LOOK_RATE:.0%} of the fitting non-pets), or "
        f"decided with under {MIN_COVER:.0%} of its smallest windows pet-like, is looked at "
        f"again: its best window, {MARGIN}x as wide and high, read again at the resolution it "
        "needs (no look where the photo has too few pixels)",
    }
