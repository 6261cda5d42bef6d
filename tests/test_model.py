"""Loading the exported model and running it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import BLUE, GREEN, GREY, RED, TINY_SIZE

from catsort.decision import decide
from catsort.errors import USAGE, CatsortError
from catsort.metadata import OTHER
from catsort.model import find_default_model, load_model

# --- load_model ---------------------------------------------------------------------------------


def test_default_model_is_the_exported_folder():
    folder = find_default_model()
    assert folder.name == "exported"
    assert (folder / "catsort.json").is_file()


def test_loads_a_folder_a_json_or_a_tflite(tiny_model):
    for path in (tiny_model, tiny_model / "catsort.json", tiny_model / "catsort.tflite"):
        classifier = load_model(path, threads=1)
        assert classifier.metadata.labels == ("cat", "dog")
        assert classifier.has_gate


def test_missing_model_is_a_usage_error(tmp_path):
    with pytest.raises(CatsortError, match="model not found") as info:
        load_model(tmp_path / "nope.tflite")
    assert info.value.kind == USAGE


def test_tflite_without_metadata_is_refused(tiny_model, tmp_path):
    shutil.copy(tiny_model / "catsort.tflite", tmp_path / "lonely.tflite")
    with pytest.raises(CatsortError, match="metadata not found"):
        load_model(tmp_path / "lonely.tflite")


def test_file_that_is_not_tflite_is_refused(tiny_model, tmp_path):
    shutil.copy(tiny_model / "catsort.json", tmp_path / "catsort.json")
    (tmp_path / "catsort.tflite").write_bytes(b"this is not a flatbuffer at all" * 4)
    with pytest.raises(CatsortError, match="not a TFLite model") as info:
        load_model(tmp_path)
    assert "\n" not in str(info.value)


def test_other_file_types_are_refused(tmp_path):
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(CatsortError, match=r"expected a folder, a \.json or a \.tflite"):
        load_model(tmp_path / "model.h5")


def _with_metadata(tiny_model: Path, tmp_path: Path, **changes) -> Path:
    shutil.copy(tiny_model / "catsort.tflite", tmp_path / "catsort.tflite")
    data = json.loads((tiny_model / "catsort.json").read_text())
    data.update(changes)
    (tmp_path / "catsort.json").write_text(json.dumps(data))
    return tmp_path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input": {"height": 160, "width": 160, "channels": 3}}, "input shape"),
        ({"labels": ["cat", "dog", "fox"], "activation": "softmax"}, "needs 3"),
        ({"model_file": "missing.tflite"}, "model file not found"),
    ],
)
def test_metadata_that_does_not_fit_the_model_is_refused(tiny_model, tmp_path, changes, message):
    with pytest.raises(CatsortError, match=message):
        load_model(_with_metadata(tiny_model, tmp_path, **changes))


def test_gate_in_metadata_needs_a_pet_score_output(tiny_models, tmp_path):
    folder = _with_metadata(tiny_models["softmax"], tmp_path, gate={"threshold": 0.5})
    with pytest.raises(CatsortError, match="no pet_score"):
        load_model(folder)


# --- Classifier.predict -------------------------------------------------------------------------


def _batch(*colors) -> np.ndarray:
    return np.stack([np.full((*TINY_SIZE, 3), c, dtype=np.uint8) for c in colors])


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_predict_scores_each_image(tiny_models, variant):
    classifier = load_model(tiny_models[variant], threads=1)
    outputs = classifier.predict(_batch(RED, BLUE, GREEN))
    assert outputs.logits.shape == (3, 1)
    assert outputs.logits[0, 0] < -5 and outputs.logits[1, 0] > 5  # red: cat, blue: dog
    assert outputs.pet_score.shape == (3,)
    assert outputs.pet_score[2] < 0.3 < outputs.pet_score[0]  # green is gated out
    labels = [
        decide(row, pet, classifier.metadata).label
        for row, pet in zip(outputs.logits, outputs.pet_score)
    ]
    assert labels == ["cat", "dog", OTHER]


def test_predict_follows_changing_batch_sizes(tiny_model):
    classifier = load_model(tiny_model, threads=1)
    big = classifier.predict(_batch(RED, BLUE, GREY, RED, BLUE))
    small = classifier.predict(_batch(BLUE))
    again = classifier.predict(_batch(RED, BLUE, GREY, RED, BLUE))
    assert big.logits.shape == (5, 1) and small.logits.shape == (1, 1)
    assert small.logits[0, 0] == pytest.approx(big.logits[1, 0])
    np.testing.assert_allclose(again.logits, big.logits)


def test_copies_run_at_the_same_time_and_score_alike(tiny_model):
    classifier = load_model(tiny_model, threads=1)
    copies = [classifier, classifier.copy(), classifier.copy()]
    batches = [_batch(RED, BLUE), _batch(BLUE, GREY, RED), _batch(GREY)]
    expected = [classifier.predict(batch).logits for batch in batches]
    for _ in range(5):  # each copy on its own thread, on batches of different sizes
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda pair: pair[0].predict(pair[1]).logits, zip(copies, batches)))
        for logits, want in zip(got, expected):
            np.testing.assert_allclose(logits, want)
    assert copies[1].metadata is classifier.metadata and copies[1].threads == 1


def test_softmax_model_gives_one_column_per_label(tiny_models):
    classifier = load_model(tiny_models["softmax"], threads=1)
    outputs = classifier.predict(_batch(RED, GREEN, BLUE))
    assert outputs.logits.shape == (3, 3) and outputs.pet_score is None
    assert [decide(row, None, classifier.metadata).label for row in outputs.logits] == [
        "red",
        "green",
        "blue",
    ]


def test_inference_never_imports_tensorflow(tiny_model):
    pytest.importorskip("ai_edge_litert", reason="the check is about LiteRT being used")
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from catsort.model import load_model
        classifier = load_model({str(tiny_model)!r}, threads=1)
        classifier.predict(np.zeros((2, 8, 8, 3), np.uint8))
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print(heavy)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "INFO: Created TensorFlow Lite XNNPACK" not in done.stderr
