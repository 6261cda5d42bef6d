"""catsort: sort the cats from the dogs in a folder of photos.

The public API, documented in README's "Python API" section::

    import catsort

    model = catsort.load_model()
    for result in catsort.classify("samples", model):
        print(result.path, result.label, result.confidence)

Names are imported on first use, so ``import catsort`` stays cheap and the command line
starts fast; importing catsort never imports Typer or Rich.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# The one place the version is written: pyproject.toml reads it from here (hatch's version
# source), and a literal costs nothing at start-up, unlike importlib.metadata.
__version__ = "0.1.0"

# The wheel installs the training code as catsort/training; a source checkout keeps it beside
# the package, in training/ at the top of the repository, so look there too.
_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isdir(os.path.join(__path__[0], "training")) and os.path.isfile(
    os.path.join(_checkout, "training", "__init__.py")
):
    __path__.append(_checkout)

#: Public name -> the module that defines it.
_EXPORTS = {
    "load_model": "catsort.api",
    "classify": "catsort.api",
    "sort_photos": "catsort.api",
    "tag_photos": "catsort.api",
    "undo": "catsort.api",
    "undo_all": "catsort.api",
    "Classifier": "catsort.model",
    "PhotoResult": "catsort.pipeline",
    "Companion": "catsort.pipeline",
    "Prediction": "catsort.decision",
    "RunSettings": "catsort.run",
    "RunSummary": "catsort.run",
    "TagSettings": "catsort.tagging.sidecar",
    "UndoResult": "catsort.sorting.restore",
    "read_results": "catsort.api",
    "summarize": "catsort.report.summary",
    "CatsortError": "catsort.errors",
}

__all__ = [
    "CatsortError",
    "Classifier",
    "Companion",
    "PhotoResult",
    "Prediction",
    "RunSettings",
    "RunSummary",
    "TagSettings",
    "UndoResult",
    "__version__",
    "classify",
    "load_model",
    "read_results",
    "sort_photos",
    "summarize",
    "tag_photos",
    "undo",
    "undo_all",
]

if TYPE_CHECKING:
    from catsort.api import (
        classify,
        load_model,
        read_results,
        sort_photos,
        tag_photos,
        undo,
        undo_all,
    )
    from catsort.decision import Prediction
    from catsort.errors import CatsortError
    from catsort.model import Classifier
    from catsort.pipeline import Companion, PhotoResult
    from catsort.report.summary import summarize
    from catsort.run import RunSettings, RunSummary
    from catsort.sorting.restore import UndoResult
    from catsort.tagging.sidecar import TagSettings


def __getattr__(name: str) -> Any:
    """Import a public name the first time it is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'catsort' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own."""
    return sorted({*globals(), *__all__})
