"""The committed tiny models in tests/models/ are what make_tiny_models.py makes today."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import BLUE, GREEN, GREY, RED, TINY_MODELS, TINY_SIZE

from catsort.model import load_model

pytest.importorskip(
    "tensorflow", reason="making the tiny models needs TensorFlow: pip install 'catsort[train]'"
)

pytestmark = pytest.mark.training

RERUN = "tests/models/ is stale: run python tests/models/make_tiny_models.py and commit the result"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_tiny_models", TINY_MODELS / "make_tiny_models.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    script = _script()
    assert script.TINY_SIZE == TINY_SIZE
    return script.build_tiny_models(tmp_path_factory.mktemp("fresh"))


@pytest.mark.parametrize("variant", ["float", "int8", "softmax"])
def test_committed_tiny_model_matches_a_fresh_build(fresh_models, variant):
    committed, fresh = TINY_MODELS / variant, fresh_models[variant]
    metadata = [json.loads((folder / "catsort.json").read_text()) for folder in (committed, fresh)]
    assert metadata[0] == metadata[1], RERUN
    # By outputs, not bytes: the converter does not promise the same bytes across versions.
    # Solid colours alone would not tell int8 from float (both give them the same scores).
    colours = (RED, BLUE, GREEN, GREY, (0, 0, 0), (255, 255, 255))
    solid = np.stack([np.full((*TINY_SIZE, 3), c, dtype=np.uint8) for c in colours])
    noise = np.random.default_rng(0).integers(0, 256, (6, *TINY_SIZE, 3), dtype=np.uint8)
    batch = np.concatenate([solid, noise])
    old, new = (load_model(folder, threads=1).predict(batch) for folder in (committed, fresh))
    np.testing.assert_allclose(new.logits, old.logits, atol=1e-5, err_msg=RERUN)
    if old.pet_score is None:
        assert new.pet_score is None, RERUN
    else:
        np.testing.assert_allclose(new.pet_score, old.pet_score, atol=1e-5, err_msg=RERUN)
