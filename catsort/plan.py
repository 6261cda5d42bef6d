"""Planning a sort: the sorting settings checked together, the default destination filled in,
and the destinations checked against the inputs, before anything is read or written.

Errors name the settings as the Python API does (``dest=``); the command line names its own
options (catsort.errors.SettingsError).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from catsort.errors import SettingsError
from catsort.skiplist import library_around
from catsort.sorting.journal import JOURNAL_DIR, folders_sorted_into
from catsort.types import COPY, MOVE, SortPlan


def make_plan(
    paths: Sequence[Path],
    action: str | None = None,
    dest: Path | None = None,
    other_dest: Path | None = None,
    dry_run: bool = False,
    flat: bool = False,
    labels: Sequence[str] = (),
    tag: bool = False,
) -> SortPlan:
    """Check the sorting settings together and fill in the default destination.

    With the model's ``labels``, a folder given that is a label folder an earlier run filled
    (or inside one) has that run's destination as its default one. ``tag``: the run writes
    keywords into sidecars, which a dry run can show without sorting.
    """
    if action is None:
        for given, field in (
            (dest, "dest"),
            (other_dest, "other_dest"),
            ((dry_run and not tag) or None, "dry_run"),
            (flat or None, "flat"),
        ):
            if given is not None:
                also = " (or {tag})" if field == "dry_run" else ""
                raise SettingsError("{" + field + "} needs {action:='move' or 'copy'}" + also)
        return SortPlan(dry_run=dry_run)
    if action not in (MOVE, COPY):
        raise ValueError(f"action must be 'move' or 'copy', not {action!r}")
    dest = dest if dest is not None else default_dest(paths, labels)
    return SortPlan(
        action,
        dest,
        other_dest,
        dry_run,
        flat,
        None if flat else library_base(paths),
        theirs=users_label_folders(dest, labels),
    )


def users_label_folders(dest: Path, labels: Sequence[str]) -> tuple[Path, ...]:
    """The label folders in ``dest`` that no catsort run sorted into (no journal beside them in
    ``dest/.catsort`` names them): the user's own ``dog/``, not to be silently left out."""
    folders = [dest / label for label in labels if (dest / label).is_dir()]
    if not folders:
        return ()
    made = folders_sorted_into(dest, labels)
    return tuple(folder for folder in folders if folder.name not in made)


def library_base(paths: Sequence[Path]) -> Path | None:
    """The folder whose relative paths sorting keeps: the folder given (or the folder of the
    files given); with several, the deepest folder holding them all."""
    roots = sorted({os.path.abspath(p if os.path.isdir(p) else Path(p).parent) for p in paths})
    if not roots:
        return None
    try:
        return Path(os.path.commonpath(roots))
    except ValueError:  # on different drives: nothing in common to keep
        return None


def earlier_destination(folder: Path, labels: Sequence[str]) -> Path | None:
    """The destination of an earlier run when ``folder`` is one of its label folders or lies
    inside one: its parent holds the journals (``.catsort``) or all the label folders."""
    path = Path(os.path.abspath(folder))
    for inside in (path, *path.parents):
        parent = inside.parent
        if inside.name not in labels or parent == inside:
            continue
        if (parent / JOURNAL_DIR).is_dir() or all((parent / lb).is_dir() for lb in labels):
            return parent
    return None


def default_dest(paths: Sequence[Path], labels: Sequence[str] = ()) -> Path:
    """The folder given (or the folder of the files given), where the label folders go; for a
    label folder an earlier run filled, that run's destination (no cat/cat/)."""
    roots = {Path(p) if os.path.isdir(p) else Path(p).parent for p in paths}
    roots = {earlier_destination(r, labels) or r for r in roots} if labels else roots
    if len({os.path.realpath(r) for r in roots}) != 1:
        raise SettingsError(
            "several folders given: choose where the label folders go with {dest:DIR}"
        )
    return sorted(roots)[0]


def journal_root(paths: Sequence[Path]) -> Path:
    """Where a run that moves nothing keeps its journal: the folder given, or their common one."""
    try:
        return default_dest(paths)
    except SettingsError:
        roots = [
            os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in paths
        ]
        return Path(os.path.commonpath(roots))


def check_plan(plan: SortPlan, paths: Sequence[Path], labels: Sequence[str]) -> None:
    """Raise SettingsError for destinations that cannot work with these inputs."""
    if plan.action is None:
        return
    for folder, field in ((plan.dest, "dest"), (plan.other_dest, "other_dest")):
        if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
            raise SettingsError("{" + field + ":{folder}}: is a file, not a folder", folder=folder)
    # The walk never enters the folders a run fills, so an input that is one would be skipped
    # without a word.
    filled = {os.path.realpath(folder): folder for folder in plan.folders(labels)}
    # A label folder given is checked again, its photos moved to their right siblings.
    rechecked = {os.path.realpath(plan.dest / label) for label in labels} if plan.dest else set()
    for path in paths:
        folder = filled.get(os.path.realpath(path)) if os.path.isdir(path) else None
        if folder is not None and os.path.realpath(path) not in rechecked:
            raise SettingsError(
                "{path}: is where this run puts sorted photos ({folder}), so nothing in it "
                "would be classified; choose another {dest} or {other_dest}",
                path=path,
                folder=folder,
            )
    check_not_inside_inputs(plan, paths)
    check_not_in_library(plan, paths)


def check_not_inside_inputs(plan: SortPlan, paths: Sequence[Path]) -> None:
    """Raise SettingsError when a destination lies inside a folder given (below it, not the
    folder itself): the sorted photos, copies perhaps, would sit among the photos being sorted,
    in a folder of their own that the next run of the library leaves out (its .catsort)."""
    folders = [(path, os.path.realpath(path)) for path in paths if os.path.isdir(path)]
    destinations = [(plan.dest, "dest")]
    if plan.action == COPY:  # copies of 'other' photos would be among the photos too
        destinations.append((plan.other_dest, "other_dest"))
    for dest, field in destinations:
        if dest is None:
            continue
        real = os.path.realpath(dest)
        for given, root in folders:
            if real != root and real.startswith(os.path.join(root, "")):
                raise SettingsError(
                    "{" + field + ":{folder}}: is inside {given}, a folder given, so the sorted "
                    "photos would be among those being sorted; choose a folder outside it",
                    folder=dest,
                    given=given,
                )


def check_not_in_library(plan: SortPlan, paths: Sequence[Path]) -> None:
    """Raise SettingsError when a run that moves or copies would sort in or into a library.

    A folder the walk would never enter (catsort.skiplist) is refused when given, or lived in,
    by an input or a destination; a run that only classifies changes nothing in one.
    """
    checked: set[str] = set()
    for path in paths:
        # Once per folder: `catsort classify *.jpg --move` names thousands of files in one.
        folder_given = os.path.realpath(path if os.path.isdir(path) else Path(path).parent)
        if folder_given in checked:
            continue
        checked.add(folder_given)
        found = library_around(Path(folder_given))
        if found is not None:
            folder, reason = found
            where = "is" if folder == Path(os.path.realpath(path)) else f"is inside {folder},"
            raise SettingsError(
                "{path}: {where} {reason}; catsort never moves or copies photos out of one "
                "(without {action:='move' or 'copy'} it only classifies, changing nothing)",
                path=path,
                where=where,
                reason=reason,
            )
    for dest, field in ((plan.dest, "dest"), (plan.other_dest, "other_dest")):
        found = library_around(dest) if dest is not None else None
        if found is not None:
            raise SettingsError(
                "{" + field + ":{folder}}: is in {library} ({reason}); choose a folder outside it",
                folder=dest,
                library=found[0],
                reason=found[1],
            )
