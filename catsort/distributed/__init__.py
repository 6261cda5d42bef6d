"""Classify photos on object storage with Ray Data (the ``catsort[distributed]`` extra).

Nothing here is imported by ``import catsort``; the modules import Ray, fsspec and pyarrow only
when they run.
"""

from __future__ import annotations

import os
import re
from importlib.util import find_spec

#: The packages the Ray engine needs (import names), from the distributed extra.
REQUIRED = ("ray", "fsspec", "pyarrow")


def missing() -> str | None:
    """The first package of the distributed extra that is not installed, or None."""
    for name in REQUIRED:
        if find_spec(name) is None:
            return name
    return None


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str | os.PathLike[str]) -> bool:
    """Tell whether an input is a URL (``s3://bucket/prefix``) rather than a local path."""
    return bool(_URL.match(os.fspath(text)))
