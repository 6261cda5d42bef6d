"""The Keras model of the transfer-learning recipe: MobileNetV2 base, pooled features, one head."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from catsort.errors import CatsortError

from .gate import NeighbourGate


def build_base(size: tuple[int, int], weights: str | None) -> keras.Model:
    """MobileNetV2 without its top; ``weights`` is "imagenet", a .h5 path or None."""
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise CatsortError(
            f"{weights}: weights file not found; pass --weights imagenet or a .h5 file"
        )
    try:
        return keras.applications.MobileNetV2(
            input_shape=(*size, 3), include_top=False, weights=weights
        )
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if weights == "imagenet":
            raise CatsortError(
                f"cannot download the ImageNet weights ({reason}); pass --weights with a local "
                "copy of mobilenet_v2_1.0_224_no_top.h5"
            ) from None
        if not isinstance(exc, (ValueError, OSError, KeyError)):
            raise
        raise CatsortError(
            f"{weights}: not MobileNetV2 (alpha 1.0, no top) weights in Keras layout ({reason})"
        ) from None


def build_model(
    size: tuple[int, int], num_classes: int, weights: str | None
) -> tuple[keras.Model, keras.Model]:
    """Return (model, base): uint8-range pixels in, logits out; the base starts frozen.

    Scaling to [-1, 1] is part of the graph, so classify feeds load_image's pixels as they are.
    """
    base = build_base(size, weights)
    base.trainable = False
    inputs = keras.Input(shape=(*size, 3), name="image")
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale")(inputs)
    # training=False keeps BatchNormalization in inference mode, also when fine-tuning.
    pooled = keras.layers.GlobalAveragePooling2D(name="features")(base(scaled, training=False))
    dropped = keras.layers.Dropout(0.2, name="dropout")(pooled)
    logits = keras.layers.Dense(1 if num_classes == 2 else num_classes, name="logits")(dropped)
    return keras.Model(inputs, logits, name="catsort"), base


def compile_model(
    model: keras.Model, num_classes: int, optimizer: keras.optimizers.Optimizer
) -> None:
    """Compile with the recipe's from-logits loss and accuracy."""
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        metric = keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])


def unfreeze_from(base: keras.Model, fine_tune_at: int) -> None:
    """Make the base trainable from layer ``fine_tune_at`` up, as in the recipe's stage 2."""
    base.trainable = True
    for layer in base.layers[:fine_tune_at]:
        layer.trainable = False


def feature_model(model: keras.Model) -> keras.Model:
    """The same graph up to the pooled features (the pet gate's input)."""
    return keras.Model(model.input, model.get_layer("features").output)


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """Trainable and frozen parameter counts and the number of trainable variables."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return {
        "trainable": trainable,
        "frozen": frozen,
        "trainable_variables": len(model.trainable_weights),
    }


class PetScore(keras.layers.Layer):
    """The pet gate inside the graph: cosine similarity to the k-th nearest training photo."""

    def __init__(self, gate: NeighbourGate, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bank = tf.constant(gate.bank.T, tf.float32)  # (features, photos)
        self.k = int(gate.k)

    def call(self, features: tf.Tensor) -> tf.Tensor:
        unit = tf.math.l2_normalize(features, axis=-1)
        similarities = tf.matmul(unit, self.bank)
        kth = tf.math.top_k(similarities, k=self.k).values[:, -1:]
        return tf.clip_by_value(kth, 0.0, 1.0)


def export_model(model: keras.Model, gate: NeighbourGate | None) -> keras.Model:
    """The model as exported: ``image`` in; ``logits`` and, with a gate, ``pet_score`` out."""
    pooled = model.get_layer("features").output
    outputs = {"logits": model.get_layer("logits")(pooled)}
    if gate is not None:
        outputs["pet_score"] = PetScore(gate, name="pet_score")(pooled)
    return keras.Model(model.input, outputs, name="catsort_export")
