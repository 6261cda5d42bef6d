"""Classify photos on object storage with Ray Data (the ``catsort[distributed]`` extra).

Nothing here is imported by ``import catsort``; the modules import Ray, fsspec and pyarrow only
when they run.
"""

from __future__ import annotations

from importlib.util import find_spec

from catsort.names import is_url

__all__ = ["REQUIRED", "is_url", "missing"]

#: The packages the Ray engine needs (import names), from the distributed extra.
REQUIRED = ("ray", "fsspec", "pyarrow")


def missing() -> str | None:
    """The first package of the distributed extra that is not installed, or None."""
    for name in REQUIRED:
        if find_spec(name) is None:
            return name
    return None
