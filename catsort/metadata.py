"""The metadata written beside every exported model, and its validation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catsort.errors import CatsortError
from catsort.regions import RegionSettings

FORMAT = "catsort-model"
FORMAT_VERSION = 1

#: Labels classify gives besides the model's own; a model may not use them.
UNCERTAIN = "uncertain"
OTHER = "other"
RESERVED_LABELS = frozenset({UNCERTAIN, OTHER})

_BAD_LABEL_CHARS = re.compile(r'[/\\\x00-\x1f<>:"|?*]')


@dataclass(frozen=True)
class ModelMetadata:
    """What classify needs to know about an exported model; ``info`` keeps the rest."""

    labels: tuple[str, ...]
    input_size: tuple[int, int]  # (height, width)
    activation: str  # "sigmoid" (one logit, two labels) or "softmax"
    threshold: float  # confidence below which a prediction is "uncertain"
    model_file: str = "catsort.tflite"
    gate_threshold: float | None = None  # pet score below which a photo is "other"
    quantization: str = "float32"
    # The parts of the photo the model also scores, for pets that do not fill the frame; None
    # for a model that scores the whole photo only.
    regions: RegionSettings | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, ``info`` fields included."""
        height, width = self.input_size
        data: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_file": self.model_file,
            "labels": list(self.labels),
            "activation": self.activation,
            "input": {"height": height, "width": width, "channels": 3, "range": [0, 255]},
            "preprocessing": {
                "function": "catsort.images.load_image",
                "steps": "EXIF orientation, RGB (alpha on white), bilinear resize to "
                "height x width without cropping, pixels 0..255; the model scales to [-1, 1]",
            },
            "threshold": self.threshold,
            "gate": None if self.gate_threshold is None else {"threshold": self.gate_threshold},
            "quantization": self.quantization,
        }
        if self.regions is not None:
            data["regions"] = self.regions.to_dict()
        for key, value in self.info.items():
            if key == "regions" and self.regions is not None:
                data["regions"] = {**value, **self.regions.to_dict()}
                continue
            if key == "gate" and data["gate"] is not None:
                data["gate"] = {**value, "threshold": self.gate_threshold}
            elif key not in data:
                data[key] = value
        return data

    def save(self, path: Path) -> None:
        """Write the metadata as indented JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def metadata_from_dict(data: dict[str, Any], source: str = "metadata") -> ModelMetadata:
    """Build and validate ModelMetadata from its JSON form."""
    if data.get("format") != FORMAT:
        raise CatsortError(f"{source}: not a catsort model metadata file")
    if data.get("format_version") != FORMAT_VERSION:
        raise CatsortError(
            f"{source}: metadata version {data.get('format_version')} is not supported "
            f"by this catsort (expects {FORMAT_VERSION}); upgrade catsort"
        )
    try:
        labels = tuple(str(label) for label in data["labels"])
        size = (int(data["input"]["height"]), int(data["input"]["width"]))
        activation = str(data["activation"])
        threshold = float(data["threshold"])
        gate = data.get("gate")
        gate_threshold = None if gate is None else float(gate["threshold"])
        regions = _regions(data.get("regions"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatsortError(f"{source}: missing or malformed field {exc}") from None
    validate_labels(labels, source)
    if activation not in ("sigmoid", "softmax"):
        raise CatsortError(f"{source}: unknown activation {activation!r}")
    if activation == "sigmoid" and len(labels) != 2:
        raise CatsortError(f"{source}: a sigmoid model needs exactly two labels")
    known = {
        "format",
        "format_version",
        "model_file",
        "labels",
        "activation",
        "input",
        "preprocessing",
        "threshold",
        "quantization",
    }
    if regions is not None and gate_threshold is None:
        raise CatsortError(f"{source}: regions need a pet gate, and the metadata has none")
    return ModelMetadata(
        labels=labels,
        input_size=size,
        activation=activation,
        threshold=threshold,
        model_file=str(data.get("model_file", "catsort.tflite")),
        gate_threshold=gate_threshold,
        quantization=str(data.get("quantization", "float32")),
        regions=regions,
        info={key: value for key, value in data.items() if key not in known},
    )


def _regions(data: Any) -> RegionSettings | None:
    """The ``regions`` entry, checked; KeyError, TypeError or ValueError when malformed."""
    if data is None:
        return None
    settings = RegionSettings(
        grid=int(data["grid"]),
        sizes=tuple(int(size) for size in data["sizes"]),
        look_threshold=float(data["look_threshold"]),
        min_cover=float(data["min_cover"]),
        margin=float(data["margin"]),
        crop_threshold=float(data["crop_threshold"]),
        cover_threshold=float(data.get("cover_threshold", 0.0)),
    )
    if settings.grid < 1 or not settings.boxes or settings.margin <= 0:
        raise ValueError("regions: no window fits the grid")
    return settings


def load_metadata(path: Path) -> ModelMetadata:
    """Read a model's metadata JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatsortError(f"{path}: model metadata not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatsortError(f"{path}: unreadable model metadata ({exc})") from None
    if not isinstance(data, dict):
        raise CatsortError(f"{path}: not a catsort model metadata file")
    return metadata_from_dict(data, str(path))


def validate_labels(labels: tuple[str, ...], source: str = "metadata") -> None:
    """Refuse labels that are unsafe or ambiguous as folder names."""
    if len(labels) < 2:
        raise CatsortError(f"{source}: a model needs at least two labels, got {list(labels)}")
    seen: set[str] = set()
    for label in labels:
        if (
            not label
            or label.strip() != label
            or label in (".", "..")
            or label.startswith(".")
            or _BAD_LABEL_CHARS.search(label)
        ):
            raise CatsortError(f"{source}: label {label!r} cannot be used as a folder name")
        if label.lower() in RESERVED_LABELS:
            raise CatsortError(f"{source}: label {label!r} is reserved by catsort")
        if label.lower() in seen:  # case-insensitive file systems would merge them
            raise CatsortError(f"{source}: label {label!r} appears twice")
        seen.add(label.lower())
