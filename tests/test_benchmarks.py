"""Every benchmark script still imports: they run on demand, never in CI, so nothing else would
notice a name one of them imports being renamed (it happened: tables._table)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
#: Extras a benchmark may need that a light install lacks: its import is then skipped.
OPTIONAL = {"tensorflow", "keras", "ray", "pyarrow", "fsspec", "s3fs", "moto", "playwright"}


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_each_benchmark_imports(script: str, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # they import each other by module name
    for name in [n for n in sys.modules if n == script]:
        monkeypatch.delitem(sys.modules, name)
    try:
        module = importlib.import_module(script)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in OPTIONAL:
            pytest.skip(f"{script} needs {exc.name}")
        raise
    if script.startswith("bench_") or script in ("heic_parity", "looks_share", "keras_baseline"):
        assert callable(getattr(module, "main", None)), f"{script} has no main()"
