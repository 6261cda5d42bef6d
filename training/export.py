"""Converting the trained model to TensorFlow Lite (float32 and int8) and running the result."""

from __future__ import annotations

import contextlib
import io
import math
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from catsort.errors import CatsortError

#: Ops kept in float32 in the int8 model: the pet gate's (FULLY_CONNECTED also covers the
#: classifier's one dense layer, MUL the input scaling). Everything else is int8. The kNN gate
#: uses L2_NORMALIZATION to MINIMUM and RELU, the Mahalanobis gate SUB to SQRT; MobileNetV2
#: itself uses none of these but MUL.
GATE_FLOAT_OPS = [
    "MUL",
    "L2_NORMALIZATION",
    "FULLY_CONNECTED",
    "BATCH_MATMUL",
    "TOPK_V2",
    "STRIDED_SLICE",
    "MINIMUM",
    "RELU",
    "SUB",
    "SQUARE",
    "SQUARED_DIFFERENCE",
    "SUM",
    "REDUCE_MIN",
    "EXP",
    "MAXIMUM",
    "SQRT",
    "CONCATENATION",
]

#: MobileNetV2 layers kept float32 in the int8 model, by name prefix: the stem, up to the end
#: of block 2, at 112x112 and 56x56. Their int8 rounding is the largest of the network (the
#: quantization debugger: up to 1.4 steps of error in a layer, against under 0.6 above block 5)
#: and it carries through to the pooled features: with them int8, the original branch's
#: features of people photos were 48 % off their float values and the Mahalanobis gate accepted
#: 7.5 % of people against 1.6 % in float32; with them float, 1.7 %. On XNNPACK without 8-bit
#: dot-product instructions these float layers also run faster than their int8 versions.
FLOAT_LAYERS = ("Conv1", "bn_Conv1", "expanded_conv_", "block_1_", "block_2_")


class Images(Protocol):
    """Photos read one at a time, as often as needed: an array, or ``Photos``."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[np.ndarray]: ...


def convert(
    model: keras.Model,
    quantization: str,
    calibration: Images | None = None,
    quiet: bool = False,
    float_layers: tuple[str, ...] = FLOAT_LAYERS,
) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer, float32 or full-integer int8.

    int8 calibrates activation ranges on ``calibration`` images (uint8 pixels, read one at a
    time, perhaps more than once: an array, or ``Photos``); inputs and
    outputs stay float32 so every variant is fed and read the same way, and the pet gate's
    arithmetic stays float, as do the MobileNetV2 layers named by ``float_layers`` (prefixes;
    empty: none). ``quiet`` drops what Keras prints while it saves the model for the
    converter (hundreds of lines listing its endpoints and captured tensors).
    """
    if not quiet:
        return _convert(model, quantization, calibration, float_layers)
    with contextlib.redirect_stdout(io.StringIO()):
        return _convert(model, quantization, calibration, float_layers)


def _convert(
    model: keras.Model,
    quantization: str,
    calibration: Images | None,
    float_layers: tuple[str, ...],
) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "float32":
        return converter.convert()
    if quantization != "int8":
        raise CatsortError(f"unknown quantization {quantization!r}; use int8 or float32")
    if calibration is None or len(calibration) == 0:
        raise CatsortError("int8 export needs calibration images")

    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[None].astype(np.float32)]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    # The pet gate's scores decide near its threshold by hundredths; int8 steps are about that
    # coarse (measured with the kNN gate: 3.3 % of non-pet photos accepted instead of 0.9 %),
    # so its arithmetic stays float: one matrix product per photo, about 1 % of the network's
    # work. The features it reads (the pooled output of int8 layers) are int8.
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=GATE_FLOAT_OPS)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative, debug_options=options
    )
    nodes = float_nodes(debugger.calibrated_model, float_layers) if float_layers else []
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_ops=GATE_FLOAT_OPS, denylisted_nodes=nodes
    )
    return debugger.get_nondebug_quantized_model()


def float_nodes(model_content: bytes, prefixes: tuple[str, ...]) -> list[str]:
    """Names of the tensors of a converted model computed by Keras layers named ``prefixes``...

    The converter names a tensor by the scopes of the ops fused into it, ``;``-separated
    (``.../block_1_expand_relu_1/Relu6;.../block_1_expand_BN_1/batchnorm/add_1;...``), in an
    order that varies; Keras numbers scopes.
    """
    pattern = re.compile(r"(^|/)(" + "|".join(map(re.escape, prefixes)) + r")\w*/")
    details = tf.lite.Interpreter(model_content=model_content).get_tensor_details()
    return [t["name"] for t in details if any(map(pattern.search, t["name"].split(";")))]


def run_tflite(
    model_path: Path, batches: Iterable[np.ndarray], threads: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Run a saved TFLite model through catsort's own runtime: (logits, pet scores, s/image).

    The seconds count the model alone, not reading the ``batches`` of photos.
    """
    from catsort.model import load_model

    classifier = load_model(model_path, threads=threads)
    logits, scores = [], []
    seconds, count = 0.0, 0
    for batch in batches:
        start = time.perf_counter()
        out = classifier.predict(batch)
        seconds += time.perf_counter() - start
        count += len(batch)
        logits.append(np.asarray(out.logits, dtype=np.float32))
        if out.pet_score is not None:
            scores.append(np.asarray(out.pet_score, dtype=np.float32).reshape(-1))
    return (
        np.concatenate(logits),
        (np.concatenate(scores) if scores else None),
        seconds / max(count, 1),
    )


def run_outputs(model_content: bytes, images: Iterable[np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of a converted model, one photo at a time (for models classify cannot run)."""
    interpreter = tf.lite.Interpreter(model_content=model_content)
    runner = interpreter.get_signature_runner()
    rows = [runner(image=image[None].astype(np.float32)) for image in images]
    return {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Per-class probabilities of a batch of logits, by classify's own post-processing."""
    from catsort.decision import probabilities as row_probabilities

    logits = np.asarray(logits)
    activation = "sigmoid" if logits.shape[-1] == 1 else "softmax"
    return np.stack([row_probabilities(row, activation) for row in logits])


def confidence_threshold(probs: np.ndarray, labels: np.ndarray, target: float = 0.995) -> float:
    """Lowest confidence threshold at which the predictions kept are at least ``target`` right."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    order = np.argsort(-confidence, kind="mergesort")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    good = np.nonzero(running >= target)[0]
    if len(good) == 0:
        return 1.0
    return float(confidence[order][good[-1]])


#: The share of photos a faithful conversion may label otherwise than the Keras model it came
#: from: those whose logits sit so near the decision boundary that rounding moves them across.
#: The check this replaces allowed test accuracies half a point apart on 500 photos; flips in
#: both directions cancel in an accuracy, so a tolerance on flips must be wider.
FLIP_RATE = 0.01

#: How sure the check must be that a conversion which flips more photos is not faithful.
FLIP_CONFIDENCE = 0.999


def allowed_flips(photos: int, rate: float = FLIP_RATE, confidence: float = FLIP_CONFIDENCE) -> int:
    """The most photos a faithful conversion labels otherwise, out of ``photos``.

    The ``confidence`` quantile of Binomial(``photos``, ``rate``): 2 of 12 photos, 5 of 100,
    13 of 500. A fixed share of the test photos cannot work for a small test set, where one
    photo is 8 points.
    """
    total = 0.0
    for flips in range(photos + 1):
        total += math.exp(
            math.lgamma(photos + 1)
            - math.lgamma(flips + 1)
            - math.lgamma(photos - flips + 1)
            + flips * math.log(rate)
            + (photos - flips) * math.log1p(-rate)
        )
        if total >= confidence:
            return flips
    return photos
