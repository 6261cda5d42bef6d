"""What catsort writes into a sidecar: its keyword for a photo, merged into what is there.

The XML itself is catsort.tagging.xmp's; the file on disk, its journaling and undo are
catsort.tagging.sidecar's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from catsort.decision import Prediction
from catsort.errors import FAILED, CatsortError
from catsort.tagging.sidecar import (
    AUTO,
    Journal,
    SidecarNames,
    TagSettings,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from catsort.tagging.xmp import (
    HIERARCHY,
    Tag,
    XmpError,
    catsort_fields,
    merge,
    new_packet,
    parse,
    serialize,
    unmerge,
)

#: What a write did to the sidecar.
CREATED = "created"
MERGED = "merged"
UNCHANGED = "unchanged"
REMOVED = "removed"  # catsort's keyword taken out


@dataclass(frozen=True)
class Tagger:
    """Tags for one run: its settings, the model's fingerprint and the run's date."""

    settings: TagSettings
    model: str
    date: str
    names: SidecarNames = field(default_factory=lambda: SidecarNames())

    def tag(self, prediction: Prediction) -> Tag:
        """The keyword and fields catsort writes for a decided photo."""
        parent = self.settings.prefix.strip("|")
        leaf = prediction.label[:1].upper() + prediction.label[1:]
        return Tag(
            label=prediction.label,
            hierarchy=f"{parent}|{leaf}" if parent else leaf,
            confidence=prediction.confidence,
            pet_score=prediction.pet_score,
            model=self.model,
            date=self.date,
        )

    def write(
        self,
        photo: Path,
        prediction: Prediction,
        journal: Journal | None = None,
        dry_run: bool = False,
        origin: Path | None = None,
    ) -> Written:
        """Merge the photo's keyword into its sidecar (see ``write_tag``)."""
        return write_tag(
            photo, self.tag(prediction), self.settings.naming, journal, dry_run, origin, self.names
        )

    def sidecar(self, photo: Path) -> Path:
        """The sidecar that holds (or will hold) the photo's keyword."""
        return sidecar_path(photo, self.settings.naming, names=self.names)

    def remove(self, photo: Path, journal: Journal | None = None) -> Written:
        """Take catsort's keyword out of the photo's sidecar (see ``remove_tag``)."""
        return remove_tag(self.sidecar(photo), journal)


@dataclass(frozen=True)
class Written:
    """Where a photo's keyword went, and whether the sidecar was created, merged or unchanged."""

    path: Path
    action: str


def write_tag(
    photo: Path,
    tag: Tag,
    naming: str = AUTO,
    journal: Journal | None = None,
    dry_run: bool = False,
    origin: Path | None = None,
    names: SidecarNames | None = None,
) -> Written:
    """Merge ``tag`` into the sidecar of ``photo``, creating it if there is none.

    With ``dry_run``, nothing is written; the sidecar read is the one beside ``origin`` (where
    the photo is before a move) when it has one. Raises CatsortError (exit code 1) naming the
    sidecar when it cannot be read, is not valid XMP, or cannot be written; it is left untouched.
    """
    path = sidecar_path(photo, naming, origin, names)
    source = path
    if origin is not None:
        beside = sidecar_path(Path(origin), naming, names=names)
        if os.path.lexists(beside):
            source = beside
    before = read_sidecar(source)
    if before is None:
        packet = new_packet()
    else:
        try:
            packet = parse(before)
        except XmpError as exc:
            raise CatsortError(
                f"{source}: not valid XMP ({exc}); left untouched",
                FAILED,
                reason=f"its sidecar is not valid XMP ({exc}); left untouched",
            ) from None
    if not merge(packet, tag):
        return Written(path, UNCHANGED)
    data = serialize(packet)
    if not dry_run:
        write_sidecar(path, data, before, journal)
    return Written(path, CREATED if before is None else MERGED)


def remove_tag(path: Path, journal: Journal | None = None) -> Written:
    """Take the keywords catsort added out of the sidecar at ``path``, journaled; the user's
    own stay. Raises CatsortError (exit code 1) naming the sidecar when it cannot be read, is
    not valid XMP, or cannot be written."""
    before = read_sidecar(path)
    if before is None:
        return Written(path, UNCHANGED)
    try:
        packet = parse(before)
    except XmpError as exc:
        raise CatsortError(f"{path}: not valid XMP ({exc}); left untouched", FAILED) from None
    if not unmerge(packet):
        return Written(path, UNCHANGED)
    write_sidecar(path, serialize(packet), before, journal)
    return Written(path, REMOVED)


def tag_prefix(path: Path) -> str | None:
    """The parent of the hierarchical keyword catsort wrote into a sidecar (``Animals`` for
    ``Animals|Cat``), or None where it wrote none or the sidecar cannot be read."""
    try:
        data = read_sidecar(path)
        packet = parse(data) if data is not None else None
    except (CatsortError, XmpError):
        return None
    added = catsort_fields(packet).get(HIERARCHY) if packet is not None else None
    if added is None:
        return None
    return added.rpartition("|")[0]
