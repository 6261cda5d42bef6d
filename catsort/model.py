"""The exported TFLite model: finding it, loading it, running it, and reading its scores."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from catsort.errors import CatsortError, one_line
from catsort.metadata import ModelMetadata, load_metadata

METADATA_NAME = "catsort.json"
#: What catsort train keeps in a run's folder until the run succeeded (training/runs.py).
UNFINISHED_RUN = "run.json"
SIGNATURE = "serving_default"


def find_default_model() -> Path:
    """Return the folder of the shipped model, from a wheel install or from a checkout."""
    package = Path(__file__).resolve().parent
    for folder in (package / "exported", package.parent / "exported"):
        if (folder / METADATA_NAME).is_file():
            return folder
    raise CatsortError(
        "no shipped model found (looked for exported/catsort.json); pass --model PATH"
    )


def load_model(path: Path | None = None, threads: int | None = None) -> Classifier:
    """Load a model folder, a metadata .json or a .tflite (with its .json beside it)."""
    path = find_default_model() if path is None else Path(path)
    metadata_path, model_path = _model_files(path)
    metadata = load_metadata(metadata_path)
    if model_path is None:
        model_path = metadata_path.parent / metadata.model_file
    if not model_path.is_file():
        raise CatsortError(f"{model_path}: model file not found (named in {metadata_path})")
    try:
        content = model_path.read_bytes()
    except OSError as exc:
        raise CatsortError(f"{model_path}: cannot read the model ({exc.strerror})") from None
    return Classifier(content, metadata, model_path, threads)


def _open_interpreter(content: bytes, model_path: Path, threads: int | None) -> Any:
    interpreter_class = _interpreter_class()
    try:
        interpreter = interpreter_class(
            model_content=content, num_threads=threads or os.cpu_count() or 1
        )
    except ValueError as exc:
        raise CatsortError(f"{model_path}: not a TFLite model ({one_line(exc)})") from None
    try:
        with _quiet_native_info():  # LiteRT prints an INFO line about XNNPACK on stderr.
            interpreter.allocate_tensors()
    except RuntimeError as exc:
        raise CatsortError(f"{model_path}: cannot run this model ({one_line(exc)})") from None
    return interpreter


#: The output of a model that also scores parts of the photo (catsort.regions).
REGION_SCORE = "region_score"


@dataclass(frozen=True)
class Outputs:
    """Raw scores for a batch: logits [N, 1 or K], and pet scores [N] if the model has a gate;
    for a model with regions, how pet-like each region looks [N, R]."""

    logits: np.ndarray
    pet_score: np.ndarray | None
    region_score: np.ndarray | None = None


class Classifier:
    """A loaded model that turns batches of load_image pixels into scores."""

    def __init__(
        self, content: bytes, metadata: ModelMetadata, path: Path, threads: int | None = None
    ) -> None:
        self.metadata = metadata
        self.path = path
        self.threads = threads
        # Copies share these bytes: each interpreter then costs its working memory only.
        self._content = content
        self._interpreter = interpreter = _open_interpreter(content, path, threads)
        inputs, outputs = _signature_details(interpreter)
        self._input = _pick_input(inputs, path)
        self._logits, self._pet = _pick_outputs(outputs, metadata, path)
        _check_shapes(self._input, self._logits, self._pet, metadata, path)
        self._regions = _region_outputs(outputs, metadata, path)
        self._batch = int(self._input["shape"][0])
        self._digest: str | None = None

    @property
    def digest(self) -> str:
        """The SHA-256 of the model file's bytes (hex): which model this is, wherever it lies."""
        if self._digest is None:
            self._digest = hashlib.sha256(self._content).hexdigest()
        return self._digest

    def copy(self) -> Classifier:
        """Load the same model again, for another thread (an interpreter runs one call at once)."""
        return Classifier(self._content, self.metadata, self.path, self.threads)

    @property
    def fingerprint(self) -> str:
        """The model file's identity for records a run leaves behind: ``sha256:<16 hex digits>``."""
        return "sha256:" + self.digest[:16]

    @property
    def has_gate(self) -> bool:
        """Tell whether the model gives a pet score."""
        return self._pet is not None

    def predict(self, batch: np.ndarray) -> Outputs:
        """Run the model on uint8 pixels [N, H, W, 3] as load_image returns them."""
        interpreter = self._interpreter
        if len(batch) != self._batch:
            shape = [len(batch), *(int(d) for d in self._input["shape"][1:])]
            # Not strict: a model exported with a fixed batch of 1 still resizes.
            interpreter.resize_tensor_input(self._input["index"], shape, strict=False)
            interpreter.allocate_tensors()
            self._batch = len(batch)
        interpreter.set_tensor(self._input["index"], _quantize(batch, self._input))
        interpreter.invoke()
        logits = _dequantize(interpreter.get_tensor(self._logits["index"]), self._logits)
        pet = None
        if self._pet is not None:
            pet = _dequantize(interpreter.get_tensor(self._pet["index"]), self._pet)[:, 0]
        regions = None
        if self._regions is not None:
            regions = _dequantize(interpreter.get_tensor(self._regions["index"]), self._regions)
            regions = regions.reshape(len(batch), -1)
        return Outputs(logits.reshape(len(batch), -1), pet, regions)


def _model_files(path: Path) -> tuple[Path, Path | None]:
    """Return (metadata file, model file or None for "as the metadata names it")."""
    if not path.exists():
        raise CatsortError(f"{path}: model not found")
    if path.is_dir():
        return path / METADATA_NAME, None
    if path.suffix.lower() == ".json":
        return path, None
    if path.suffix.lower() == ".tflite":
        return path.with_suffix(".json"), path
    raise CatsortError(f"{path}: not a model (expected a folder, a .json or a .tflite file)")


def _interpreter_class() -> Any:
    """Return the TFLite Interpreter class: LiteRT, else tflite_runtime, else TensorFlow."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        pass
    else:
        return Interpreter
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        pass
    else:
        return Interpreter
    try:
        import tensorflow as tf
    except ImportError:
        raise CatsortError(
            "no TFLite runtime installed: pip install ai-edge-litert (or tensorflow on Windows)"
        ) from None
    return tf.lite.Interpreter


def _signature_details(interpreter: Any) -> tuple[dict[str, dict], dict[str, dict]]:
    """Return input and output tensor details keyed by signature name, else by tensor name."""
    signatures = interpreter.get_signature_list()
    if signatures:
        key = SIGNATURE if SIGNATURE in signatures else next(iter(signatures))
        runner = interpreter.get_signature_runner(key)
        return runner.get_input_details(), runner.get_output_details()
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    return inputs, {d["name"]: d for d in interpreter.get_output_details()}


def _pick_input(inputs: dict[str, dict], path: Path) -> dict:
    if "image" in inputs:
        return inputs["image"]
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    raise CatsortError(f"{path}: model has {len(inputs)} inputs and none is named 'image'")


def _pick_outputs(
    outputs: dict[str, dict], metadata: ModelMetadata, path: Path
) -> tuple[dict, dict | None]:
    """Find the logits and pet_score outputs: by name first, then by shape."""
    logits = outputs.get("logits")
    pet = outputs.get("pet_score")
    if logits is not None:
        return logits, pet
    width = 1 if metadata.activation == "sigmoid" else len(metadata.labels)
    if len(outputs) == 1:
        return next(iter(outputs.values())), None
    if len(outputs) == 2 and width > 1:
        fits = [d for d in outputs.values() if int(d["shape"][-1]) == width]
        rest = [d for d in outputs.values() if int(d["shape"][-1]) == 1]
        if len(fits) == 1 and len(rest) == 1:
            return fits[0], rest[0]
    raise CatsortError(
        f"{path}: cannot tell the model's outputs apart ({', '.join(outputs)}); "
        "expected outputs named 'logits' and 'pet_score'"
    )


def _check_shapes(
    image: dict, logits: dict, pet: dict | None, metadata: ModelMetadata, path: Path
) -> None:
    """Refuse a model whose tensors do not match its metadata."""
    shape = [int(d) for d in image["shape_signature"]]
    height, width = metadata.input_size
    if len(shape) != 4 or shape[1:] != [height, width, 3]:
        raise CatsortError(
            f"{path}: model input shape {shape} does not match the metadata "
            f"({height}x{width} RGB images)"
        )
    columns = 1 if metadata.activation == "sigmoid" else len(metadata.labels)
    if int(logits["shape"][-1]) != columns:
        raise CatsortError(
            f"{path}: model gives {int(logits['shape'][-1])} scores per image, but the "
            f"metadata ({metadata.activation}, labels {list(metadata.labels)}) needs {columns}"
        )
    if pet is not None and int(pet["shape"][-1]) != 1:
        raise CatsortError(f"{path}: the pet_score output should have one value per image")
    if pet is None and metadata.gate_threshold is not None:
        raise CatsortError(f"{path}: the metadata has a pet gate but the model no pet_score")


def _region_outputs(outputs: dict[str, dict], metadata: ModelMetadata, path: Path) -> dict | None:
    """The region output a model with regions in its metadata must have, checked."""
    if metadata.regions is None:
        return None
    score = outputs.get(REGION_SCORE)
    if score is None:
        raise CatsortError(f"{path}: the metadata has regions but the model no {REGION_SCORE}")
    count = len(metadata.regions.boxes)
    if int(score["shape"][-1]) != count:
        raise CatsortError(
            f"{path}: the model scores {int(score['shape'][-1])} regions, its metadata "
            f"names {count}"
        )
    return score


def _quantize(batch: np.ndarray, detail: dict) -> np.ndarray:
    """Bring uint8 pixels into the input tensor's type (float, or quantized integers)."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return batch.astype(dtype, copy=False)
    scale, zero_point = detail["quantization"]
    if dtype == np.uint8 and (not scale or (scale == 1.0 and zero_point == 0)):
        return np.ascontiguousarray(batch)
    values = batch.astype(np.float32) / (scale or 1.0) + zero_point
    info = np.iinfo(dtype)
    return np.clip(np.round(values), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.dtype(values.dtype).kind == "f" or not scale:
        return values.astype(np.float32, copy=False)
    return (values.astype(np.float32) - zero_point) * scale


@contextmanager
def _quiet_native_info() -> Iterator[None]:
    """Hide the native library's INFO lines on stderr; pass anything else through."""
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured): nothing to hide
        yield
        return
    sys.stderr.flush()
    saved = os.dup(stderr_fd)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), stderr_fd)
        try:
            yield
        finally:
            os.dup2(saved, stderr_fd)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if not line.startswith("INFO: "):
                    print(line, file=sys.stderr)
