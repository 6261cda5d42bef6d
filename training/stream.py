"""The one input pipeline of training: tf.data batches read from a split's ``Photos``.

Training, validation, testing, the pet gate's fitting and int8 calibration all read their
photos through here (or through ``Photos`` directly, a batch at a time, for TensorFlow Lite).
Each photo is read by index in parallel calls (a record from the decoded store, or the file
decoded again by ``load_image``), so memory holds a few batches, never the data set; the
training order is a new permutation of the indices each epoch, over the whole split.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from .photos import Photos

#: Batches made ahead of the model. Two keep it busy; AUTOTUNE would size the buffer by the
#: machine's memory, not the data's needs.
PREFETCH = 2


def dataset(
    photos: Photos,
    batch_size: int,
    num_classes: int | None = None,
    shuffle_seed: int | None = None,
    augment: keras.Model | None = None,
    class_weights: Sequence[float] | None = None,
) -> tf.data.Dataset:
    """Batches of float pixels; with ``num_classes``, (pixels, labels[, weights]) for Keras.

    Labels are floats for two classes (one logit) and class indices for more. ``shuffle_seed``
    reshuffles the whole split each epoch; ``augment`` runs on each batch; ``class_weights``
    adds each photo's class weight as a third element.
    """
    height, width = photos.size

    def read(index: np.ndarray) -> np.ndarray:
        return photos.pixels(int(index))

    def pixels(index: tf.Tensor) -> tf.Tensor:
        image = tf.numpy_function(read, [index], tf.uint8, stateful=False)
        image.set_shape((height, width, 3))
        return image

    indices = tf.data.Dataset.range(len(photos))
    if shuffle_seed is not None:
        indices = indices.shuffle(len(photos), seed=shuffle_seed, reshuffle_each_iteration=True)
    if num_classes is None:
        ds = indices.map(pixels, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.batch(batch_size).map(lambda x: tf.cast(x, tf.float32))
        return ds.prefetch(PREFETCH)
    labels = tf.constant(photos.labels.astype(np.float32 if num_classes == 2 else np.int64))
    weights = None if class_weights is None else tf.constant(class_weights, tf.float32)

    def example(index: tf.Tensor) -> tuple:
        label = tf.gather(labels, index)
        if weights is None:
            return pixels(index), label
        return pixels(index), label, tf.gather(weights, tf.cast(label, tf.int64))

    ds = indices.map(example, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    ds = ds.map(lambda x, *rest: (tf.cast(x, tf.float32), *rest))
    if augment is not None:
        ds = ds.map(
            lambda x, *rest: (augment(x, training=True), *rest),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(PREFETCH)


def steps(photos: Photos, batch_size: int) -> int:
    """Batches in one pass over ``photos``."""
    return -(-len(photos) // batch_size)
