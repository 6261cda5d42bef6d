"""The Keras model of the transfer-learning recipe: MobileNetV2 base, pooled features, one head."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from catsort.errors import CatsortError

from .gate import STATISTICS_LAYER, MahalanobisGate, NeighbourGate, PhotoGate


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


#: The second opinion's L2 penalty per photo, on standardized features (a study on 2,000
#: training photos' features: 0.0025 to 0.25 gave the same outcomes within a photo or two).
SECOND_OPINION_L2 = 0.025


def fit_second_opinion(
    features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A linear head on fixed ``features``, by the recipe's loss: (kernel, bias) for raw features.

    It is fitted on standardized features, with an L2 penalty; the standardization is folded
    into the returned kernel and bias.
    """
    mean, spread = features.mean(axis=0), features.std(axis=0) + 1e-6
    keras.utils.set_random_seed(seed)
    dense = keras.layers.Dense(
        1 if num_classes == 2 else num_classes,
        kernel_regularizer=keras.regularizers.L2(SECOND_OPINION_L2),
    )
    head = keras.Sequential([keras.Input((features.shape[1],)), dense])
    compile_model(head, num_classes, keras.optimizers.Adam(0.01))
    head.fit(
        ((features - mean) / spread).astype(np.float32),
        labels.astype(np.float32 if num_classes == 2 else np.int64),
        batch_size=len(features),
        epochs=300,
        verbose=0,
    )
    kernel, bias = dense.get_weights()
    kernel = kernel / spread[:, None]
    return kernel, bias - mean @ kernel


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


class MahalanobisDistance(keras.layers.Layer):
    """Squared Mahalanobis distance to the nearer class mean, inside the graph.

    d = |f L - m_c L|^2 with L the Cholesky factor of the precision: one matrix product.
    """

    def __init__(self, gate: MahalanobisGate, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = tf.constant(gate.factor, tf.float32)  # (features, features)
        self.centres = tf.constant(gate.means @ gate.factor, tf.float32)  # (classes, features)

    def call(self, features: tf.Tensor) -> tf.Tensor:
        projected = tf.matmul(features, self.factor)
        # Class by class, without reshaping: the converter quantizes a reshaped tensor (and
        # with it the projected features) in the int8 model, which flattens the scores.
        nearest = None
        for centre in tf.unstack(self.centres):
            squared = tf.reduce_sum(tf.math.squared_difference(projected, centre), -1, True)
            nearest = squared if nearest is None else tf.minimum(nearest, squared)
        return nearest


class ChannelStatistics(keras.layers.Layer):
    """Per-channel mean and standard deviation over a feature map's positions."""

    def call(self, feature_map: tf.Tensor) -> tf.Tensor:
        # Sums times 1/positions, not reduce_mean: MEAN is also the network's own pooling,
        # which stays int8, while these must stay float (SUM, SQUARE and MUL are float ops).
        positions = float(feature_map.shape[1] * feature_map.shape[2])
        mean = tf.reduce_sum(feature_map, axis=(1, 2)) * (1.0 / positions)
        mean_square = tf.reduce_sum(tf.square(feature_map), axis=(1, 2)) * (1.0 / positions)
        spread = tf.sqrt(tf.maximum(mean_square - tf.square(mean), 0.0))
        return tf.concat([mean, spread], axis=-1)


class PhotoScore(keras.layers.Layer):
    """The pet gate inside the graph: 2 ** -r, r the larger distance-to-limit ratio."""

    def __init__(self, gate: PhotoGate, **kwargs) -> None:
        super().__init__(**kwargs)
        self.content = MahalanobisDistance(gate.content)
        self.statistics = MahalanobisDistance(gate.statistics)
        self.content_scale = 1.0 / gate.content_limit
        self.statistics_scale = 1.0 / gate.statistics_limit

    def call(self, content: tf.Tensor, statistics: tf.Tensor) -> tf.Tensor:
        ratio = tf.maximum(
            self.content(content) * self.content_scale,
            self.statistics(statistics) * self.statistics_scale,
        )
        return tf.exp(ratio * -float(np.log(2.0)))


def base_of(model: keras.Model) -> keras.Model:
    """The MobileNetV2 inside a model of ``build_model``."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def crossing_tensors(base: keras.Model, at: int) -> list:
    """Outputs of layers below ``at`` that layers from ``at`` up read (a residual crosses too)."""
    below = {id(layer.output): layer.output for layer in base.layers[:at]}
    crossing: dict[int, object] = {}
    for layer in base.layers[at:]:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        for tensor in inputs:
            if id(tensor) in below:
                crossing.setdefault(id(tensor), tensor)
    return list(crossing.values())


def frozen_branch_model(
    model: keras.Model, original: keras.Model, fine_tune_at: int
) -> keras.Model:
    """``model`` with more outputs: the pooled features of ``original``'s layers from
    ``fine_tune_at`` up, run on the fine-tuned base's own (frozen, so unchanged) lower layers,
    and the channel statistics of its ``STATISTICS_LAYER``.

    Outputs ``logits``, ``features`` (the fine-tuned pooled features), ``branch_features`` and
    ``statistics``, and the maps they pool, ``fine_map`` and ``branch_map`` (for the regions,
    ``training/regions.py``); the lower layers run once.
    """
    base = base_of(model)
    names = [layer.name for layer in base.layers[1:]]  # the input layer's name is numbered
    if names != [layer.name for layer in original.layers[1:]]:
        raise CatsortError("the original MobileNetV2 does not match the trained model's layers")
    crossing = crossing_tensors(original, fine_tune_at)
    # The same cut in the fine-tuned base: the outputs of the layers at the same places.
    place = {id(layer.output): i for i, layer in enumerate(original.layers)}
    bottom = keras.Model(
        base.input,
        [base.layers[place[id(t)]].output for t in crossing]
        + [base.get_layer(STATISTICS_LAYER).output, base.output],
        name="shared_bottom",
    )
    top = keras.Model(crossing, original.output, name="original_top")
    scaled = model.get_layer("scale")(model.input)
    *cut, low, fine_tuned = bottom(scaled, training=False)
    pooled = model.get_layer("features")(fine_tuned)
    branch_map = top(cut, training=False)
    branch = keras.layers.GlobalAveragePooling2D(name="branch_features")(branch_map)
    logits = model.get_layer("logits")(pooled)
    return keras.Model(
        model.input,
        {
            "logits": logits,
            "features": pooled,
            "branch_features": branch,
            "statistics": ChannelStatistics(name="statistics")(low),
            "fine_map": fine_tuned,
            "branch_map": branch_map,
        },
        name="catsort_branch",
    )


def _mean_of_heads(
    model: keras.Model, second_opinion: tuple[np.ndarray, np.ndarray]
) -> keras.layers.Dense:
    """One dense layer over both feature vectors whose logits are the two heads' mean.

    One matrix product rather than an average of two: it stays float in the int8 model (the
    converter would quantize an ADD, and the logits with it).
    """
    kernel, bias = model.get_layer("logits").get_weights()
    other_kernel, other_bias = second_opinion
    dense = keras.layers.Dense(kernel.shape[1], name="two_heads")
    dense.build((None, kernel.shape[0] + other_kernel.shape[0]))
    dense.set_weights([np.concatenate([kernel, other_kernel]) / 2, (bias + other_bias) / 2])
    return dense


def export_model(
    model: keras.Model,
    gate: NeighbourGate | PhotoGate | None,
    branch: keras.Model | None = None,
    second_opinion: tuple[np.ndarray, np.ndarray] | None = None,
    regions: keras.layers.Layer | None = None,
) -> keras.Model:
    """The model as exported: ``image`` in; ``logits`` and, with a gate, ``pet_score`` out.

    A ``PhotoGate`` reads the original features and the statistics of ``branch``
    (``frozen_branch_model``). With a ``second_opinion`` (``fit_second_opinion`` on the
    original features) the logits are the mean of its logits and the fine-tuned head's. With
    ``regions`` (a layer of ``training/regions.py`` on both feature maps), ``region_score`` too.
    """
    if isinstance(gate, PhotoGate):
        if branch is None:
            raise CatsortError("the Mahalanobis gate needs the model with its original branch")
        outputs = branch.output
        score = PhotoScore(gate, name="pet_score")(
            outputs["branch_features"], outputs["statistics"]
        )
        logits = outputs["logits"]
        if second_opinion is not None:
            both = keras.layers.Concatenate(name="both_features")(
                [outputs["features"], outputs["branch_features"]]
            )
            logits = _mean_of_heads(model, second_opinion)(both)
        named = {"logits": logits, "pet_score": score}
        if regions is not None:
            named["region_score"] = regions(outputs["fine_map"], outputs["branch_map"])
        return keras.Model(branch.input, named, name="catsort_export")
    pooled = model.get_layer("features").output
    outputs = {"logits": model.get_layer("logits")(pooled)}
    if gate is not None:
        outputs["pet_score"] = PetScore(gate, name="pet_score")(pooled)
    return keras.Model(model.input, outputs, name="catsort_export")
