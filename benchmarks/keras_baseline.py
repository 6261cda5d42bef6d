"""The baseline: classify a folder the way a user of the original Keras recipe would.

The same MobileNetV2 classifier as catsort's (scaling to [-1, 1], the base, pooling, dropout, one
logit), fed by ``keras.utils.image_dataset_from_directory`` and ``model.predict``, batch 32,
with the probabilities written to a CSV. The head is untrained: only the time matters here.

    python benchmarks/keras_baseline.py FOLDER --size 224 224 --weights W.h5 --csv out.csv
"""

from __future__ import annotations

import argparse
import csv
import math


def main() -> None:
    """Build the model, predict every image under the folder, write path,p_dog rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), required=True)
    parser.add_argument("--weights", required=True, help="MobileNetV2 no-top .h5 (or 'imagenet')")
    parser.add_argument("--csv", required=True)
    args = parser.parse_args()
    height, width = args.size

    import keras

    base = keras.applications.MobileNetV2(
        include_top=False, weights=args.weights, input_shape=(height, width, 3)
    )
    inputs = keras.Input((height, width, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))

    dataset = keras.utils.image_dataset_from_directory(
        args.folder,
        labels=None,
        image_size=(height, width),
        batch_size=32,
        shuffle=False,
        verbose=False,
    )
    logits = model.predict(dataset, verbose=0)

    with open(args.csv, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["path", "p_dog"])
        for path, logit in zip(dataset.file_paths, logits[:, 0]):
            writer.writerow([path, f"{1 / (1 + math.exp(-float(logit))):.4f}"])


if __name__ == "__main__":
    main()
