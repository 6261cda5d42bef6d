"""Composite photos: pets that do not fill the frame, and scenes with no pet at all.

    python -m catsort.training.composites --pets ../shared/data/pets-elsewhere \\
        --others ../shared/data/others --output /tmp/composites

Each pet photo is pasted at 60, 40 and 25 % of the width into a 1600x1200 scene, at one of
several places: a scaled-up photo from ``others``, a generated garden, room or beach, or a
street made of a sky, houses, a road and the cars, motorbikes and people of ``others``. The
same scenes without a pet, and synthetic non-photos (flat colours, noise, text, charts, clip
art), measure what such photos let in. ``manifest.csv`` says, for each file, what it holds
and where the pet is (a box in relative coordinates). Everything is drawn from one seed, so
the same inputs give the same files.

The ``others`` photos are split by a fixed rule (``others_half``): in each class folder, sorted
by name, the even-numbered photos are for fitting and the odd-numbered ones for measuring, so
that scenes used to fit anything never share a photo with scenes used to measure it. Pets from
``../shared/data/pets-elsewhere`` are for measuring only; composites for fitting take their pets
from the training photos (``cats_and_dogs_filtered/train``).
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from catsort.images import is_image_name

#: The frame of every composite, landscape, as a camera's 4:3 photo.
FRAME = (1600, 1200)
#: The pet's width as a share of the frame's width (the issue's sizes).
WIDTHS = (0.60, 0.40, 0.25)
#: Where the pet's centre goes, relative to the frame (moved in where the box would not fit).
PLACES = (
    (0.50, 0.55),
    (0.25, 0.65),
    (0.75, 0.65),
    (0.30, 0.35),
    (0.70, 0.35),
    (0.50, 0.80),
)
#: The kinds of scene a pet is pasted into, taken in turn.
SCENES = ("photo", "generated", "street")
#: The halves of ``others`` (``others_half``).
HALVES = ("fitting", "measuring")
#: Street objects: the ``others`` classes that stand in a street.
STREET_CLASSES = ("car", "motorbike", "person")
MANIFEST = "manifest.csv"
NO_PET = "none"
JPEG_QUALITY = 90

Box = tuple[float, float, float, float]  # x0, y0, x1, y1, relative to the frame


@dataclass(frozen=True)
class Composite:
    """One file of a composite set: what it holds and where its pet is."""

    path: Path
    truth: str  # a class label, or "none" for a scene or non-photo with no pet
    width: float | None  # the pet's width as a share of the frame's; None without a pet
    scene: str  # "photo", "generated", "street" or "synthetic: <kind>"
    source: str  # the pet photo's file name ("" without a pet)
    box: Box | None


def others_half(folder: Path, half: str) -> dict[str, list[Path]]:
    """The ``others`` photos of one half, by class: even-numbered ones fit, odd ones measure."""
    if half not in HALVES:
        raise ValueError(f"unknown half {half!r}; use {' or '.join(HALVES)}")
    start = HALVES.index(half)
    classes = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(p for p in sub.iterdir() if is_image_name(p) and p.is_file())
        classes[sub.name] = photos[start::2]
    return classes


def labelled_photos(
    folder: Path, labels: tuple[str, ...] = ("cat", "dog")
) -> list[tuple[Path, str]]:
    """The photos of a folder of class folders (``cats/``, ``dogs/``), with their labels,
    classes interleaved so any prefix is balanced."""
    per_class = []
    for label in labels:
        sub = next((folder / n for n in (label + "s", label) if (folder / n).is_dir()), None)
        if sub is None:
            raise SystemExit(f"{folder}: no {label}s/ folder")
        photos = sorted(p for p in sub.iterdir() if is_image_name(p) and p.is_file())
        per_class.append([(p, label) for p in photos])
    longest = max(len(photos) for photos in per_class)
    return [group[i] for i in range(longest) for group in per_class if i < len(group)]


# --- scenes -----------------------------------------------------------------------------------


def _noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth noise in [0, 1] of ``size`` (width, height), about ``cells`` bumps across."""
    width, height = size
    grid = rng.random((max(2, cells * height // width), max(2, cells)))
    image = Image.fromarray((grid * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def _texture(rng: np.random.Generator, size: tuple[int, int], colour, spread: float) -> np.ndarray:
    """A surface of ``colour`` with blotches at a few scales and fine grain: (H, W, 3) float."""
    blotches = np.zeros((size[1], size[0]), dtype=np.float32)
    for cells, weight in ((3, 0.5), (12, 0.3), (48, 0.2)):
        blotches += _noise(rng, size, cells) * weight
    grain = rng.normal(0, 0.04, (size[1], size[0], 1))
    shade = (blotches - 0.5)[..., None] * spread + grain
    return np.asarray(colour, dtype=np.float32) * (1 + shade)


def _vertical(colour_top, colour_bottom, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = (np.asarray(c, dtype=np.float32) for c in (colour_top, colour_bottom))
    return np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).copy()


def _jitter(rng: np.random.Generator, colour, amount: float = 0.15) -> tuple[float, ...]:
    return tuple(float(c) * rng.uniform(1 - amount, 1 + amount) for c in colour)


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def generated_scene(rng: np.random.Generator, size: tuple[int, int] = FRAME) -> Image.Image:
    """A garden, a room or a beach drawn from noise and gradients."""
    width, height = size
    kind = ("garden", "room", "beach")[int(rng.integers(3))]
    if kind == "garden":
        horizon = int(height * rng.uniform(0.2, 0.45))
        sky = _vertical(_jitter(rng, (110, 160, 220)), _jitter(rng, (200, 220, 235)), size)
        grass = _texture(rng, size, _jitter(rng, (70, 130, 50), 0.25), 0.8)
        hedge = _texture(rng, size, _jitter(rng, (35, 75, 35), 0.25), 1.0)
        pixels = grass
        pixels[:horizon] = sky[:horizon]
        band = int(height * rng.uniform(0.05, 0.15))
        pixels[horizon : horizon + band] = hedge[horizon : horizon + band]
    elif kind == "room":
        floor = int(height * rng.uniform(0.55, 0.75))
        wall_colour = _jitter(rng, (200, 190, 170), 0.2)
        pixels = _texture(rng, size, wall_colour, 0.15) * _vertical((1.0,) * 3, (0.85,) * 3, size)
        wood = _texture(rng, size, _jitter(rng, (140, 95, 60), 0.25), 0.5)
        planks = (np.arange(height)[:, None] % int(rng.integers(40, 90))) < 3
        wood[np.broadcast_to(planks, (height, width))] *= 0.6
        pixels[floor:] = wood[floor:]
        image = _to_image(pixels)
        draw = ImageDraw.Draw(image)
        # A window and a piece of furniture, where they happen to fall.
        x = int(rng.uniform(0.05, 0.6) * width)
        draw.rectangle((x, height * 0.1, x + width * 0.25, floor * 0.7), fill=(225, 235, 245))
        x = int(rng.uniform(0.0, 0.6) * width)
        colour = tuple(int(c) for c in _jitter(rng, (110, 70, 60), 0.4))
        draw.rectangle((x, floor * 0.75, x + width * 0.4, floor + height * 0.05), fill=colour)
        return image.filter(ImageFilter.GaussianBlur(1.5))
    else:
        sea_top = int(height * rng.uniform(0.3, 0.45))
        sand_top = int(height * rng.uniform(0.55, 0.7))
        pixels = _texture(rng, size, _jitter(rng, (215, 195, 150), 0.1), 0.3)
        sky = _vertical(_jitter(rng, (90, 150, 220)), _jitter(rng, (190, 215, 240)), size)
        sea = _texture(rng, size, _jitter(rng, (40, 100, 140), 0.2), 0.4)
        pixels[:sea_top] = sky[:sea_top]
        pixels[sea_top:sand_top] = sea[sea_top:sand_top]
    return _to_image(pixels).filter(ImageFilter.GaussianBlur(1.0))


def photo_scene(
    source: Path, rng: np.random.Generator, size: tuple[int, int] = FRAME
) -> Image.Image:
    """A small photo scaled up to the frame, with a camera's grain."""
    with Image.open(source) as img:
        big = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    grain = rng.normal(0, 3, (size[1], size[0], 1))
    return _to_image(np.asarray(big, dtype=np.float32) + grain)


def street_scene(
    objects: dict[str, list[Path]], rng: np.random.Generator, size: tuple[int, int] = FRAME
) -> Image.Image:
    """A sky, a row of houses, a pavement and a road, with cars, motorbikes and people on it."""
    width, height = size
    roofs = int(height * rng.uniform(0.15, 0.3))
    pavement = int(height * rng.uniform(0.5, 0.6))
    road = pavement + int(height * rng.uniform(0.06, 0.1))
    pixels = _vertical(_jitter(rng, (120, 165, 215)), _jitter(rng, (205, 220, 235)), size)
    tarmac = _texture(rng, size, _jitter(rng, (95, 95, 100), 0.2), 0.4)
    stones = _texture(rng, size, _jitter(rng, (170, 165, 155), 0.15), 0.3)
    pixels[pavement:road] = stones[pavement:road]
    pixels[road:] = tarmac[road:]
    image = _to_image(pixels)
    draw = ImageDraw.Draw(image)
    x = 0
    while x < width:  # houses side by side, each with its rows of windows
        house = int(width * rng.uniform(0.12, 0.3))
        top = roofs + int(height * rng.uniform(-0.08, 0.1))
        colour = tuple(int(c) for c in _jitter(rng, (185, 160, 135), 0.3))
        draw.rectangle((x, top, x + house, pavement), fill=colour)
        step = int(rng.integers(50, 90))
        for wy in range(top + 30, pavement - 60, step):
            for wx in range(x + 20, x + house - 40, step):
                draw.rectangle((wx, wy, wx + step // 2, wy + step * 2 // 3), fill=(70, 80, 95))
        x += house
    lane = (road + height) // 2
    for dash in range(0, width, 160):
        draw.rectangle((dash, lane - 6, dash + 90, lane + 6), fill=(235, 235, 225))
    image = image.filter(ImageFilter.GaussianBlur(1.0))
    kinds = [k for k in STREET_CLASSES if objects.get(k)]
    for _ in range(int(rng.integers(3, 9))):
        kind = kinds[int(rng.integers(len(kinds)))]
        source = objects[kind][int(rng.integers(len(objects[kind])))]
        side = int(width * rng.uniform(0.08, 0.25))
        with Image.open(source) as img:
            thing = img.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
        x = int(rng.uniform(0, width - side))
        y = int(rng.uniform(pavement - side * 0.8, height - side))
        image.paste(thing, (x, max(0, y)))
    return image


class Scenes:
    """Scenes of each kind from one half of ``others``, drawn from one random stream."""

    def __init__(self, others: dict[str, list[Path]], rng: np.random.Generator) -> None:
        self.others = others
        self.photos = [p for photos in others.values() for p in photos]
        self.rng = rng

    def make(self, kind: str, size: tuple[int, int] = FRAME) -> Image.Image:
        """A new scene of ``kind`` ("photo", "generated" or "street")."""
        if kind == "photo":
            return photo_scene(
                self.photos[int(self.rng.integers(len(self.photos)))], self.rng, size
            )
        if kind == "generated":
            return generated_scene(self.rng, size)
        if kind == "street":
            return street_scene(self.others, self.rng, size)
        raise ValueError(f"unknown scene {kind!r}")


# --- pasting ----------------------------------------------------------------------------------


def pet_box(
    pet_size: tuple[int, int], width: float, centre: tuple[float, float], frame: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1) of a pet photo pasted ``width`` of the frame wide.

    A pet photo taller than 90 % of the frame at that width is cut to that height (its middle
    kept); the box is moved in so it lies inside the frame.
    """
    frame_w, frame_h = frame
    box_w = round(width * frame_w)
    box_h = min(round(box_w * pet_size[1] / pet_size[0]), round(0.9 * frame_h))
    x0 = min(max(round(centre[0] * frame_w - box_w / 2), 0), frame_w - box_w)
    y0 = min(max(round(centre[1] * frame_h - box_h / 2), 0), frame_h - box_h)
    return x0, y0, x0 + box_w, y0 + box_h


def paste_pet(
    scene: Image.Image, pet: Image.Image, width: float, centre: tuple[float, float]
) -> tuple[Image.Image, Box]:
    """``scene`` with ``pet`` pasted ``width`` of its width wide around ``centre``; the box.

    The edge is softened over about 1 % of the pet's width: a hard seam is a cue no real
    photo has (the issue's composites had one, which made them harsher than real photos).
    """
    x0, y0, x1, y1 = pet_box(pet.size, width, centre, scene.size)
    box_w, box_h = x1 - x0, y1 - y0
    scale = box_w / pet.width
    cut = round(box_h / scale)
    top = max(0, (pet.height - cut) // 2)
    resized = pet.crop((0, top, pet.width, top + cut)).resize(
        (box_w, box_h), Image.Resampling.BICUBIC
    )
    feather = max(1, box_w // 100)
    mask = Image.new("L", (box_w, box_h), 0)
    ImageDraw.Draw(mask).rectangle(
        (feather, feather, box_w - 1 - feather, box_h - 1 - feather), fill=255
    )
    mask = mask.filter(ImageFilter.GaussianBlur(feather / 2))
    out = scene.copy()
    out.paste(resized, (x0, y0), mask)
    frame_w, frame_h = scene.size
    return out, (x0 / frame_w, y0 / frame_h, x1 / frame_w, y1 / frame_h)


def place(index: int, rng: np.random.Generator) -> tuple[float, float]:
    """The ``index``-th place, in turn, moved a little at random."""
    x, y = PLACES[index % len(PLACES)]
    return x + float(rng.uniform(-0.05, 0.05)), y + float(rng.uniform(-0.05, 0.05))


# --- synthetic non-photos ---------------------------------------------------------------------


def synthetic_non_photos(size: int = 800, seed: int = 7) -> Iterator[tuple[str, Image.Image]]:
    """Solid colours, noise, text pages, white pages, gradients, charts, clip art and
    window screenshots: (kind, image) pairs."""
    rng = np.random.default_rng(seed)
    for colour in [
        (0, 0, 0),
        (255, 255, 255),
        (200, 30, 30),
        (30, 160, 60),
        (40, 60, 200),
        (128, 128, 128),
        (250, 220, 120),
        (90, 60, 30),
    ]:
        yield "solid", Image.new("RGB", (size, size), colour)
    for sigma in (10, 40, 90):
        for _ in range(3):
            noise = rng.normal(128, sigma, (size, size, 3)).clip(0, 255).astype(np.uint8)
            yield "noise", Image.fromarray(noise)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
    words += ["meeting", "notes", "invoice", "total"]
    for page in range(6):
        image = Image.new("RGB", (size * 3 // 2, size), "white" if page % 2 == 0 else "#1e1e1e")
        draw = ImageDraw.Draw(image)
        for line in range(40):
            text = " ".join(rng.choice(words, 10))
            draw.text((20, 10 + 19 * line), text, fill="black" if page % 2 == 0 else "#dddddd")
        yield "text", image
    for _ in range(3):
        blank = Image.new("RGB", (size * 3 // 4, size), "white")
        yield "white-page", blank.filter(ImageFilter.GaussianBlur(2))
    for _ in range(4):
        ramp = np.linspace(0, 255, size)[None, :, None] * rng.uniform(0.2, 1, (1, 1, 3))
        yield "gradient", Image.fromarray(np.broadcast_to(ramp, (size, size, 3)).astype(np.uint8))
    for _ in range(10):
        yield "chart", _chart(rng, size)
    for _ in range(10):
        yield "clip-art", _clip_art(rng, size)
    for _ in range(10):
        yield "screenshot", _screenshot(rng, size, words)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))  # type: ignore[return-value]


def _chart(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size * 4 // 3, size), "white")
    draw = ImageDraw.Draw(image)
    left, bottom = 80, size - 60
    draw.line((left, 40, left, bottom), fill="black", width=2)
    draw.line((left, bottom, image.width - 30, bottom), fill="black", width=2)
    bars = int(rng.integers(4, 12))
    step = (image.width - left - 60) // bars
    for i in range(bars):
        top = int(rng.uniform(60, bottom - 20))
        x = left + 20 + i * step
        draw.rectangle((x, top, x + step * 2 // 3, bottom), fill=_colour(rng))
        draw.text((x, bottom + 10), f"Q{i + 1}", fill="black")
    return image


def _clip_art(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), _colour(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = (int(v) for v in rng.integers(0, size - 100, 2))
        x1, y1 = x0 + int(rng.integers(50, size // 2)), y0 + int(rng.integers(50, size // 2))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=_colour(rng), outline="black", width=4)
    return image


def _screenshot(rng: np.random.Generator, size: int, words: list[str]) -> Image.Image:
    image = Image.new("RGB", (size * 16 // 10, size), (236, 236, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 36), fill=(60, 60, 70))
    draw.rectangle((0, 36, 220, size), fill=(250, 250, 250))
    for row in range(12):
        draw.text((16, 60 + row * 28), " ".join(rng.choice(words, 2)), fill=(40, 40, 40))
    for row in range(int(rng.integers(3, 7))):
        y = 70 + row * 110
        draw.rectangle((250, y, image.width - 30, y + 90), fill="white", outline=(200, 200, 200))
        draw.text((270, y + 12), " ".join(rng.choice(words, 8)), fill=(20, 20, 20))
        draw.rectangle((image.width - 150, y + 50, image.width - 50, y + 78), fill=_colour(rng))
    return image


# --- whole sets -------------------------------------------------------------------------------


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG" if path.suffix == ".jpg" else "PNG", quality=JPEG_QUALITY)
    path.write_bytes(buffer.getvalue())


def build_composites(
    pets: list[tuple[Path, str]],
    others: dict[str, list[Path]],
    output: Path,
    widths: tuple[float, ...] = WIDTHS,
    scenes: int = 100,
    synthetic: bool = True,
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> list[Composite]:
    """Write the composite set into ``output`` and its ``manifest.csv``; return its entries.

    Every pet photo is pasted once at each width (``pets/w60/`` ...), into the scenes in turn
    and at the places in turn; ``scenes`` scenes of each kind are written with no pet
    (``scenes/``), and, with ``synthetic``, the synthetic non-photos (``synthetic/``).
    """
    rng = np.random.default_rng(seed)
    made = Scenes(others, rng)
    entries: list[Composite] = []
    for width in widths:
        say(f"pets at {width:.0%} of the width: {len(pets)} photos ...")
        for index, (path, label) in enumerate(pets):
            kind = SCENES[index % len(SCENES)]
            with Image.open(path) as img:
                pet = img.convert("RGB")
            image, box = paste_pet(made.make(kind), pet, width, place(index, rng))
            name = Path("pets", f"w{round(width * 100)}", f"{label}-{index:03d}-{kind}.jpg")
            _save(image, output / name)
            entries.append(Composite(name, label, width, kind, path.name, box))
    say(f"scenes without a pet: {scenes} of each kind ...")
    for kind in SCENES:
        for index in range(scenes):
            name = Path("scenes", kind, f"{kind}-{index:03d}.jpg")
            _save(made.make(kind), output / name)
            entries.append(Composite(name, NO_PET, None, kind, "", None))
    if synthetic:
        counts: dict[str, int] = {}
        for kind, image in synthetic_non_photos():
            counts[kind] = counts.get(kind, 0) + 1
            name = Path("synthetic", f"{kind}-{counts[kind] - 1}.png")
            _save(image, output / name)
            entries.append(Composite(name, NO_PET, None, f"synthetic: {kind}", "", None))
    write_manifest(output, entries)
    return entries


def write_manifest(output: Path, entries: list[Composite]) -> None:
    """``manifest.csv``: path, truth, width, scene, source, box (``x0 y0 x1 y1``)."""
    with open(output / MANIFEST, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "truth", "width", "scene", "source", "box"])
        for e in entries:
            writer.writerow(
                [
                    e.path.as_posix(),
                    e.truth,
                    "" if e.width is None else f"{e.width:g}",
                    e.scene,
                    e.source,
                    "" if e.box is None else " ".join(f"{v:.4f}" for v in e.box),
                ]
            )


def read_manifest(folder: Path) -> list[Composite]:
    """The entries of a composite set's ``manifest.csv`` (paths joined to ``folder``)."""
    path = folder / MANIFEST
    if not path.is_file():
        raise SystemExit(
            f"{folder}: no {MANIFEST}; build it with python -m catsort.training.composites"
        )
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return [
        Composite(
            folder / row["path"],
            row["truth"],
            float(row["width"]) if row["width"] else None,
            row["scene"],
            row["source"],
            tuple(float(v) for v in row["box"].split()) if row["box"] else None,  # type: ignore[arg-type]
        )
        for row in rows
    ]


#: The frame of composites made for fitting: smaller than the measuring sets' (the model sees
#: 224x224 either way, and a JPEG of either size decodes at 400x300 in draft mode).
FITTING_FRAME = (800, 600)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def fitting_composites(
    pets: list[tuple[Path, str]],
    others: dict[str, list[Path]],
    widths: tuple[float, float] = (0.2, 0.7),
    seed: int = 0,
    frame: tuple[int, int] = FITTING_FRAME,
) -> Iterator[tuple[bytes, str, Box]]:
    """Composites made in memory for fitting, as JPEG files: (bytes, label, box).

    Each pet photo once, at a width drawn from ``widths``, a place drawn at random and a scene
    of each kind in turn. Read them with ``load_image(name, size, data)`` as a file.
    """
    rng = np.random.default_rng(seed)
    made = Scenes(others, rng)
    for index, (path, label) in enumerate(pets):
        with Image.open(path) as img:
            pet = img.convert("RGB")
        width = float(rng.uniform(*widths))
        centre = (float(rng.uniform(0.15, 0.85)), float(rng.uniform(0.2, 0.8)))
        scene = made.make(SCENES[index % len(SCENES)], frame)
        image, box = paste_pet(scene, pet, width, centre)
        yield _jpeg(image), label, box


def fitting_scenes(
    others: dict[str, list[Path]],
    count: int,
    seed: int = 0,
    frame: tuple[int, int] = FITTING_FRAME,
) -> Iterator[tuple[bytes, str]]:
    """``count`` scenes with no pet, each kind in turn, as JPEG files: (bytes, kind)."""
    made = Scenes(others, np.random.default_rng(seed))
    for index in range(count):
        kind = SCENES[index % len(SCENES)]
        yield _jpeg(made.make(kind, frame)), kind


def main() -> None:
    """Build a composite set from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pets", type=Path, required=True, help="a folder of cats/ and dogs/")
    parser.add_argument("--others", type=Path, required=True, help="../shared/data/others")
    parser.add_argument(
        "--output", type=Path, required=True, help="a new folder, outside the repository"
    )
    parser.add_argument(
        "--half",
        choices=HALVES,
        default="measuring",
        help="which half of --others the scenes are made of (default: %(default)s)",
    )
    parser.add_argument("--scenes", type=int, default=100, help="scenes of each kind with no pet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.output.exists() and any(args.output.iterdir()):
        raise SystemExit(f"{args.output}: not empty; give a new folder")
    entries = build_composites(
        labelled_photos(args.pets),
        others_half(args.others, args.half),
        args.output,
        scenes=args.scenes,
        seed=args.seed,
    )
    print(f"{len(entries)} files in {args.output} ({MANIFEST} lists them)")


if __name__ == "__main__":
    main()
