"""Shared test set-up: a fixed terminal for Rich, tiny TFLite models, photos and file trees."""

from __future__ import annotations

import inspect
import os
import shutil
import struct
import textwrap
import zlib
from pathlib import Path

import pytest

# Rich reads these when it measures the terminal: fixed width, no colour, no live redraws,
# so output checks do not depend on where the tests run.
os.environ["COLUMNS"] = "120"
os.environ["LINES"] = "40"
os.environ["NO_COLOR"] = "1"
os.environ["TERM"] = "dumb"
os.environ.pop("FORCE_COLOR", None)
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


@pytest.fixture(autouse=True)
def _cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder of every test: a fresh one of its own, never the real one."""
    home = tmp_path_factory.mktemp("cache-home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


# --- tiny models --------------------------------------------------------------------------------
#
# The tiny models in tests/models/ (made by tests/models/make_tiny_models.py with TensorFlow, and
# committed, so the tests need only LiteRT) look at mean colours of an 8x8 image (values scaled to
# 0..1 as r, g, b):
#   logits    = 8 * (b - r)   -> red photos are "cat", blue photos are "dog", grey is uncertain
#   pet_score = 1 - g         -> green photos fall below the gate and become "other"
# so tests can make photos with a known answer with a single colour.

TINY_SIZE = (8, 8)
TINY_MODELS = Path(__file__).parent / "models"
RED, BLUE, GREEN, GREY = (230, 20, 20), (20, 20, 230), (20, 230, 20), (128, 128, 128)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders holding tiny exported models ("float", "int8", "softmax").

    Copies of the committed ones, so that no test can change the repository's.
    """
    folder = tmp_path_factory.mktemp("models")
    models = {}
    for name in ("float", "int8", "softmax"):
        models[name] = Path(shutil.copytree(TINY_MODELS / name, folder / name))
    return models


@pytest.fixture(scope="session")
def tiny_model(tiny_models: dict[str, Path]) -> Path:
    """The folder of the tiny float model with a pet gate."""
    return tiny_models["float"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes claiming a huge picture (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def damaged_exif_jpeg(path: Path) -> Path:
    """A red JPEG whose EXIF description claims 200 bytes past the end of the file."""
    from PIL import Image

    entries = struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<HHII", 0x010E, 2, 200, 1000)
    exif = b"Exif\0\0II*\0" + struct.pack("<IH", 8, 2) + entries + struct.pack("<I", 0)
    Image.new("RGB", (64, 48), RED).save(path, exif=exif)
    return path


@pytest.fixture
def make_photo():
    """Return a function that writes a solid-colour photo (any Pillow format) and its path."""
    from PIL import Image

    def make(path: Path, color=RED, size=(24, 16), mode="RGB", **save_args) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, color).convert(mode).save(path, **save_args)
        return path

    return make


@pytest.fixture
def photos(tmp_path, make_photo) -> Path:
    """A folder with a cat (red), a dog (blue), an uncertain (grey) and an other (green) photo."""
    root = tmp_path / "photos"
    make_photo(root / "kitty.jpg", RED)
    make_photo(root / "trip" / "rex.png", BLUE)
    make_photo(root / "blur.png", GREY)
    make_photo(root / "tree.png", GREEN)
    return root


# --- file trees ---------------------------------------------------------------------------------


def _make_files(root: Path, files: dict[str, bytes | str]) -> Path:
    """Write ``{"a/x.jpg": b"..."}`` under root (folders made as needed); return root."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def _read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root as {relative path: bytes}; symlinks as b"-> target".

    The journal folder .catsort is left out: it is catsort's record, not the user's photos.
    """
    tree = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".catsort")
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()
            tree[key] = (
                b"-> " + os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
            )
    return tree


@pytest.fixture
def make_files():
    """Return make_files(root, {"a/x.jpg": b"..."}) that writes a tree of small files."""
    return _make_files


@pytest.fixture
def read_tree():
    """Return read_tree(root) -> {relative path: bytes} to compare trees before and after."""
    return _read_tree


def docstring_example(obj: object) -> str:
    """The example in an API docstring: the indented block after its line ending in ``::``."""
    doc = inspect.getdoc(obj) or ""
    _, sep, rest = doc.partition("::\n")
    assert sep, f"{obj} has no example in its docstring"
    block = []
    for line in rest.splitlines():
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))
