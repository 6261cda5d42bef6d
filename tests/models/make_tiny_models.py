"""Write the tiny TFLite models the tests use into tests/models/ (needs TensorFlow).

The tests load the models committed here, so that they run without TensorFlow; run this
script again only when the models or their metadata have to change, from the repository root:

    python tests/models/make_tiny_models.py

It writes one folder per variant ("float", "int8", "softmax", "regions"), each with
catsort.tflite and catsort.json, a few KB in all. The tiny models look at mean colours of an
8x8 image (values scaled to 0..1 as r, g, b):

    logits    = 8 * (b - r)   -> red photos are "cat", blue photos are "dog", grey is uncertain
    pet_score = 1 - g         -> green photos fall below the gate and become "other"

so tests can make photos with a known answer with a single colour. The softmax variant has one
logit per colour: logits = 8 * (r, g, b), labels "red", "green", "blue". The regions variant is
the float one with a stricter gate (0.5) and scores the four quarters of the photo (a 2x2 grid
of windows of one cell, catsort.regions):

    region_score = 8 * (r + b - g - 0.6)   -> red or blue quarters look like a pet, grey and
                                              green ones do not

With TensorFlow 2.21 on Linux x86-64, runs give byte-identical files, the int8 model too (it
is calibrated on a fixed, seeded set of colours). The converter does not promise that across
TensorFlow versions or machines, so after an upgrade compare the models by their outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

TINY_SIZE = (8, 8)  # tests/conftest.py imports the same size for its test images
TINY_LABELS = ("cat", "dog")
VARIANTS = ("float", "int8", "softmax", "regions")
HERE = Path(__file__).resolve().parent


def build_tiny_models(folder: Path) -> dict[str, Path]:
    """Convert the tiny models with TensorFlow: float sigmoid+gate, int8, softmax (3 labels),
    and the float one with regions.

    Each goes to ``folder/<variant>/`` (made here) as catsort.tflite and catsort.json.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    from catsort.metadata import ModelMetadata
    from catsort.regions import RegionSettings

    spec = tf.TensorSpec([None, *TINY_SIZE, 3], tf.float32, name="image")

    class Tiny(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, image):
            rgb = tf.reduce_mean(image / 255.0, axis=[1, 2])
            logits = 8.0 * (rgb[:, 2:3] - rgb[:, 0:1])
            return {"logits": logits, "pet_score": 1.0 - rgb[:, 1:2]}

    class Regions(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, image):
            rgb = tf.reduce_mean(image / 255.0, axis=[1, 2])
            side = TINY_SIZE[0] // 2
            quarters = tf.nn.avg_pool2d(image / 255.0, side, side, "VALID")  # (N, 2, 2, 3)
            scores = 8.0 * (quarters[..., 0] + quarters[..., 2] - quarters[..., 1] - 0.6)
            return {
                "logits": 8.0 * (rgb[:, 2:3] - rgb[:, 0:1]),
                "pet_score": 1.0 - rgb[:, 1:2],
                "region_score": tf.reshape(scores, (-1, 4)),
            }

    class Softmax(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, image):
            return {"logits": 8.0 * tf.reduce_mean(image / 255.0, axis=[1, 2])}

    def representative():
        rng = np.random.default_rng(0)
        for i in range(64):  # solid colours, so calibration sees the full range of scores
            colour = rng.choice([0.0, 255.0], size=3) if i % 2 else rng.uniform(0, 255, 3)
            yield [np.broadcast_to(colour, (1, *TINY_SIZE, 3)).astype(np.float32)]

    def convert(module, quantize=False):
        function = module.serve.get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function], module)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.int8
        return converter.convert()

    base = dict(input_size=TINY_SIZE, activation="sigmoid", threshold=0.6, gate_threshold=0.3)
    variants = {
        "float": (convert(Tiny()), ModelMetadata(labels=TINY_LABELS, **base)),
        "int8": (
            convert(Tiny(), quantize=True),
            ModelMetadata(labels=TINY_LABELS, quantization="int8", **base),
        ),
        "regions": (
            convert(Regions()),
            ModelMetadata(
                labels=TINY_LABELS,
                input_size=TINY_SIZE,
                activation="sigmoid",
                threshold=0.6,
                gate_threshold=0.5,
                regions=RegionSettings(
                    grid=2,
                    sizes=(1,),
                    look_threshold=1.0,
                    min_cover=0.5,
                    margin=1.0,
                    crop_threshold=0.9,
                ),
            ),
        ),
        "softmax": (
            convert(Softmax()),
            ModelMetadata(
                labels=("red", "green", "blue"),
                input_size=TINY_SIZE,
                activation="softmax",
                threshold=0.5,
            ),
        ),
    }
    models = {}
    for name, (flatbuffer, metadata) in variants.items():
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        (target / metadata.model_file).write_bytes(flatbuffer)
        metadata.save(target / "catsort.json")
        models[name] = target
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", nargs="?", type=Path, default=HERE, help="where to write (default: %(default)s)"
    )
    args = parser.parse_args()
    # The catsort beside these tests, not whichever one the environment has installed.
    sys.path.insert(0, str(HERE.parents[1]))
    for name, target in build_tiny_models(args.folder).items():
        sizes = ", ".join(f"{p.name} {p.stat().st_size:,} B" for p in sorted(target.iterdir()))
        print(f"{name}: {target} ({sizes})")


if __name__ == "__main__":
    main()
