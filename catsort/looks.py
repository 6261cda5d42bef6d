"""Deciding a batch's photos, with a second look at a part of those that deserve one.

The model's first pass gives each photo's logits, pet score and region scores
(``catsort.regions``); the photos those leave to a second look have that part read again at
the resolution it needs (``catsort.crops``) and run through the model together, once per
batch. What the model said, first pass and second look, is what the results cache keeps
(``catsort.cache.Known``), so a photo it knows is decided again without being read, unless a
run's thresholds now ask for a look it never had.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from catsort.cache import Known
from catsort.decision import Prediction, decide, decide_look
from catsort.errors import CatsortError
from catsort.model import Classifier
from catsort.regions import Box, Look, look_box, wants_look

#: Reads the part ``box`` of the ``index``-th photo, as the model sees a whole one; None where
#: the photo cannot give it at the model's size (``catsort.crops``).
PartReader = Callable[[int, Box], np.ndarray | None]


def decide_photos(
    scored: Sequence[Known],
    model: Classifier,
    read_part: PartReader,
    threshold: float | None = None,
    gate_threshold: float | None = None,
    use_gate: bool = True,
) -> list[tuple[Prediction, Known]]:
    """Each photo's prediction, and what is known of it now (with a new second look, if one was
    taken). A part that cannot be read, or not at the model's size, is no look: the whole
    photo's label stands."""
    metadata = model.metadata
    settings = metadata.regions
    wholes = [
        decide(np.asarray(k.logits), k.pet_score, metadata, threshold, gate_threshold, use_gate)
        for k in scored
    ]
    wanted: dict[int, Box] = {}
    if settings is not None and use_gate:
        for index, (known, whole) in enumerate(zip(scored, wholes)):
            scores = np.asarray(known.region_scores)
            if scores.size and wants_look(whole.label in metadata.labels, scores, settings):
                wanted[index] = look_box(scores, settings)
    now = list(scored)
    parts: dict[int, np.ndarray] = {}
    for index, box in wanted.items():
        if scored[index].look is None or scored[index].look.box != box:  # type: ignore[union-attr]
            try:
                part = read_part(index, box)
            except CatsortError:
                continue
            if part is not None:
                parts[index] = part
    if parts:
        outputs = model.predict(np.stack(list(parts.values())))
        for row, index in enumerate(parts):
            pet = None if outputs.pet_score is None else float(outputs.pet_score[row])
            logits = tuple(float(value) for value in outputs.logits[row])
            now[index] = replace(scored[index], look=Look(wanted[index], logits, pet))
    decided = []
    for index, (known, whole) in enumerate(zip(now, wholes)):
        look = known.look
        if index in wanted and look is not None and look.box == wanted[index]:
            whole = decide_look(
                whole,
                np.asarray(look.logits),
                look.pet_score,
                look.box,
                metadata,
                threshold,
                gate_threshold,
            )
        decided.append((whole, known))
    return decided
