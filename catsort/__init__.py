"""catsort: sort the cats from the dogs in a folder of photos."""

__version__ = "0.1.0"
