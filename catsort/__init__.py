"""catsort: sort the cats from the dogs in a folder of photos.

The public API (catsort.api), documented in the docs site's Python API pages (docs/api/)::

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

from catsort.version import __version__

# The wheel installs the training code as catsort/training; a source checkout keeps it beside
# the package, in training/ at the top of the repository, so look there too.
_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isdir(os.path.join(__path__[0], "training")) and os.path.isfile(
    os.path.join(_checkout, "training", "__init__.py")
):
    __path__.append(_checkout)

#: The public names: each is catsort.api's (defined there, or imported there from its module).
__all__ = [
    "CatsortError",
    "Classifier",
    "Companion",
    "PhotoResult",
    "Prediction",
    "Reporter",
    "Review",
    "RunSettings",
    "RunSummary",
    "SortPlan",
    "SortSession",
    "TagSettings",
    "UndoResult",
    "WatchSettings",
    "__version__",
    "classify",
    "load_model",
    "open_review",
    "read_results",
    "run_ray",
    "serve_review",
    "sort_photos",
    "summarize",
    "tag_photos",
    "undo",
    "undo_all",
    "watch",
]
_EXPORTS = frozenset(__all__) - {"__version__"}
# Names whose own module is light: the command line's modules import them when they load.
_LIGHT = {"CatsortError": "catsort.errors"}

if TYPE_CHECKING:
    from catsort.api import (
        CatsortError,
        Classifier,
        Companion,
        PhotoResult,
        Prediction,
        Reporter,
        Review,
        RunSettings,
        RunSummary,
        SortPlan,
        SortSession,
        TagSettings,
        UndoResult,
        WatchSettings,
        classify,
        load_model,
        open_review,
        read_results,
        run_ray,
        serve_review,
        sort_photos,
        summarize,
        tag_photos,
        undo,
        undo_all,
        watch,
    )


def __getattr__(name: str) -> Any:
    """Import a public name the first time it is used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'catsort' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LIGHT.get(name, "catsort.api")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own."""
    return sorted({*globals(), *__all__})
