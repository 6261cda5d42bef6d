"""catsort: sort the cats from the dogs in a folder of photos."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("catsort")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The wheel installs the training code as catsort/training; a source checkout keeps it beside
# the package, in training/ at the top of the repository, so look there too.
_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isdir(os.path.join(__path__[0], "training")) and os.path.isfile(
    os.path.join(_checkout, "training", "__init__.py")
):
    __path__.append(_checkout)
