"""The recipe's figures: learning curves and photo grids, saved as PNG files."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font


def learning_curves(history: dict[str, list[float]], fine_tune_epoch: int, path: Path) -> None:
    """Accuracy and loss per epoch for both stages, the start of fine-tuning marked."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric in zip(axes, ("accuracy", "loss")):
        ax.plot(epochs, history[metric], label=f"training {metric}")
        ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.axvline(fine_tune_epoch + 0.5, color="grey", linestyle="--", label="start fine-tuning")
        ax.set_ylabel(metric.capitalize())
        ax.legend(loc="lower right" if metric == "accuracy" else "upper right")
    axes[0].set_title("Training and validation accuracy")
    axes[1].set_title("Training and validation loss")
    axes[1].set_xlabel("Epoch")
    _save(fig, path)


def photo_grid(
    images: np.ndarray,
    titles: Sequence[str],
    path: Path,
    wrong: Sequence[bool] | None = None,
    columns: int = 4,
) -> None:
    """A grid of photos with a title each; titles of ``wrong`` photos are red."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows))
    for index, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index].astype(np.uint8))
            is_wrong = bool(wrong[index]) if wrong is not None else False
            ax.set_title(
                drawable(titles[index]),
                color="red" if is_wrong else "black",
                fontsize=10,
                fontfamily=list(_families()),
            )
    _save(fig, path)


def augmentation_grid(
    image: np.ndarray, augment: Callable[[np.ndarray], np.ndarray], path: Path, count: int = 9
) -> None:
    """One photo and its augmented variants."""
    variants = [image] + [augment(image) for _ in range(count - 1)]
    photo_grid(np.stack(variants), ["original"] + ["augmented"] * (count - 1), path, columns=3)


def drawable(text: str) -> str:
    """``text`` with what no installed font can draw spelled out: 🐶 becomes ``[dog face]``.

    Emoji fonts, where installed, draw emoji; DejaVu Sans, matplotlib's own, has none (and
    matplotlib would draw an empty box and warn of the missing glyph).
    """
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf" or (category in ("Mn", "Me") and ord(char) not in _drawable_codes()):
            continue  # joiners and variation selectors of emoji: nothing to spell out
        if char.isspace() or ord(char) in _drawable_codes():
            out.append(char)
        else:
            out.append(f"[{unicodedata.name(char, 'symbol').lower()}]")
    return "".join(out)


@functools.cache
def _families() -> tuple[str, ...]:
    """matplotlib's font, then any monochrome emoji font installed (a fallback for titles)."""
    emoji = sorted(
        {
            font.name
            for font in font_manager.fontManager.ttflist
            if "emoji" in font.name.lower() and "color" not in font.name.lower()
        }
    )
    return (*matplotlib.rcParams["font.sans-serif"][:1], *emoji)


@functools.cache
def _drawable_codes() -> frozenset[int]:
    codes: set[int] = set()
    for family in _families():
        path = font_manager.findfont(font_manager.FontProperties(family=family))
        codes.update(FT2Font(path).get_charmap())
    return frozenset(codes)


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    if path.suffix == ".jpg":
        fig.savefig(path, dpi=80, pil_kwargs={"quality": 80})
    else:
        fig.savefig(path, dpi=80)
    plt.close(fig)
