"""How many photos of a folder get a second look (issue 32), and why.

    python benchmarks/looks_share.py --model exported/catsort.json FOLDER [FOLDER ...]

For each folder (photos found recursively), runs the model's first pass as classify does and
counts the photos whose region scores ask for a second look at a part of them: undecided
photos (``other`` or ``uncertain``) with a pet-like window, and decided photos where little of
the frame looks like a pet. A second look costs about one decode of the part and one model
pass: this share bounds its cost.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from catsort.decision import decide
from catsort.images import is_image_name, load_image
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import load_model
from catsort.regions import wants_look


def main() -> int:
    """Print, per folder, the share of photos the first pass leaves to a second look."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--limit", type=int, default=None, help="at most this many per folder")
    args = parser.parse_args()
    model = load_model(args.model)
    metadata = model.metadata
    if metadata.regions is None:
        print(f"{args.model or 'the shipped model'} scores no regions: no photo gets a look")
        return 0
    for folder in args.folders:
        paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
        paths = paths[: args.limit]
        gated = uncertain = decided = 0
        for start in range(0, len(paths), 32):
            batch = [load_image(p, metadata.input_size) for p in paths[start : start + 32]]
            outputs = model.predict(np.stack(batch))
            assert outputs.region_score is not None
            for row in range(len(batch)):
                pet = None if outputs.pet_score is None else float(outputs.pet_score[row])
                whole = decide(outputs.logits[row], pet, metadata)
                took = whole.label in metadata.labels
                if wants_look(took, outputs.region_score[row], metadata.regions):
                    decided += took
                    gated += whole.label == OTHER
                    uncertain += whole.label == UNCERTAIN
        total = max(len(paths), 1)
        print(
            f"{folder}: {len(paths)} photos; second look for "
            f"{(gated + uncertain + decided) / total:.1%} (with a pet-like part: gated out "
            f"{gated / total:.1%}, uncertain {uncertain / total:.1%}; decided with little of "
            f"the frame pet-like {decided / total:.1%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
