"""Writing a person's decisions as class folders, the layout ``catsort train --data`` takes:
``DIR/cat/``, ``DIR/dog/``, hard links to the photos where the file system allows, else copies.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catsort import files
from catsort.errors import DISK_ERRORS, CatsortError, WriteFailed, os_reason
from catsort.images import is_image_name
from catsort.review.items import OK, Item, state_now
from catsort.sorting.place import copy_file, same_content, unique_target

#: Why a decided photo was not exported.
NOT_A_PET = "not a pet: training learns the model's labels (its pet gate is fitted on pets)"
NOT_AN_IMAGE = "RAW files: training reads JPEG, PNG, HEIC and the other image formats"
GONE = "moved or changed since the review read it"


@dataclass
class ExportSummary:
    """What an export wrote: photos linked, copied, already there; and why others were not."""

    folder: Path
    linked: int = 0
    copied: int = 0
    already: int = 0
    left_out: Counter = field(default_factory=Counter)  # reason -> photos
    #: Why the export stopped part way (a full disk: the file, the reason), or None.
    stopped: str | None = None

    @property
    def written(self) -> int:
        """Photos written into the class folders now."""
        return self.linked + self.copied


def export_decisions(items: Sequence[Item], labels: Sequence[str], out: Path) -> ExportSummary:
    """Put each photo a person gave a model label into ``out/<label>/`` under its own name
    (``name (1).jpg`` where taken); a photo already there is passed over, so an export into the
    same folder again adds only what is new. Raises CatsortError when ``out`` is a file.

    A disk that takes no more (full, read-only) stops the export there, ``stopped`` saying
    why; what was written stays, whole (a half-written copy is removed), and the same export
    again adds the rest."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise CatsortError(f"{out}: is a file; --export takes a folder for the class folders")
    summary = ExportSummary(out)
    for item in items:
        if item.decided is None:
            continue
        if item.decided not in labels:
            summary.left_out[NOT_A_PET] += 1
            continue
        if not is_image_name(item.path):
            summary.left_out[NOT_AN_IMAGE] += 1
            continue
        if state_now(item) != OK:
            summary.left_out[GONE] += 1
            continue
        folder = out / item.decided
        there = folder / item.path.name
        if os.path.lexists(there) and same_content(there, item.path):
            summary.already += 1
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            summary.stopped = f"{folder}: cannot create the class folder ({os_reason(exc)})"
            break
        target = unique_target(folder, item.path.name)
        try:
            files.hard_link(item.path, target)
            summary.linked += 1
            continue
        except OSError as exc:
            if exc.errno in DISK_ERRORS:
                summary.stopped = f"{target}: cannot write it ({os_reason(exc)})"
                break
            # Another file system, or one without hard links: a copy instead.
        try:
            copy_file(item.path, target)
        except WriteFailed as exc:
            summary.stopped = str(exc)
            break
        except CatsortError as exc:
            summary.left_out[exc.reason or str(exc)] += 1
            continue
        summary.copied += 1
    return summary
