"""catsort's version: the one place it is written.

pyproject.toml reads it from here (hatch's version source); ``catsort.__version__`` is this.
A module of its own so that any module may read it (the results cache keys rows by it)
without importing the package's public API, which sits above them all.
"""

# A literal costs nothing at start-up, unlike importlib.metadata.
__version__ = "0.3.0"
