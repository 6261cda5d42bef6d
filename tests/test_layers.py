"""The layers: no import cycle between catsort's modules or subpackages, a lower layer never
imports a higher one, and the command line imports only the public API and its own modules.

Every import counts, read from the source with ``ast``: those at the top of a module, those
inside functions (deferred, to keep start-up light, but a dependency all the same) and those
only for type checking. A deferred import may only ever go down the layers.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import catsort

PACKAGE = Path(catsort.__file__).parent

#: From the bottom up: a module may import from its own layer (without a cycle) or those below.
#: A subpackage stands for all its modules. A new module goes into the layer it belongs to.
LAYERS: list[set[str]] = [
    # words and files: what every layer may use
    {"errors", "files", "names", "columns", "metadata", "skiplist", "version"},
    # reading photos and videos, running the model
    {"raw", "decoding", "images", "video", "thumbnails", "decision", "model", "cache"},
    # the data a run shares, finding photos, and what reads or writes results
    {"types", "walk", "csv_out", "report"},
    # classifying many photos; moving them safely
    {"pipeline", "sorting"},
    # keywords in sidecars (journaled through sorting)
    {"tagging"},
    # the sort session and its plan
    {"plan", "session"},
    # what drives a session, or classifies without one
    {"run", "watching", "distributed", "review"},
    # the public API
    {"api"},
    # its clients: the package's names, the train extra's package, the command line
    {"", "training"},
    {"cli", "__main__"},
]

#: What the command line may import besides the public API (catsort, catsort.api): its own
#: modules, and the train extra's package (TensorFlow behind it), for ``catsort train``.
CLI_MAY_IMPORT = ("catsort.cli", "catsort.training")


def _training_folder() -> Path | None:
    """The training package: inside catsort in a wheel, beside it in a source checkout."""
    spec = importlib.util.find_spec("catsort.training")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _modules() -> dict[str, Path]:
    """Every module of catsort (and catsort.training) by its dotted name."""
    found = {}
    roots = [(PACKAGE, "catsort")]
    training = _training_folder()
    if training is not None and PACKAGE not in training.parents:
        roots.append((training, "catsort.training"))
    for root, prefix in roots:
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """The catsort modules a module imports, with the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _module_of(alias.name), node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .x import y
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield _module_of(f"{base}.{alias.name}", base), node.lineno
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield _module_of(node.args[0].value), node.lineno


def _module_of(dotted: str, fallback: str | None = None) -> str:
    """The catsort module that ``dotted`` names (the nearest one it lies in), or ""."""
    for candidate in (dotted, fallback):
        while candidate:
            if candidate in MODULES:
                return candidate
            candidate = candidate.rpartition(".")[0]
    return ""


EDGES = {
    (name, imported, line)
    for name, path in MODULES.items()
    for imported, line in _imports(name, path)
    if imported and imported != name
}


PACKAGES = {
    name for name, path in MODULES.items() if path.name == "__init__.py" and name != "catsort"
}


def _unit(module: str) -> str:
    """What a module is part of at the subpackage level: its subpackage, or itself."""
    top = ".".join(module.split(".")[:2])
    return top if top in PACKAGES else module


def _layer(module: str) -> int:
    short = _unit(module).removeprefix("catsort").removeprefix(".")
    for number, layer in enumerate(LAYERS):
        if short in layer:
            return number
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``graph`` (its nodes in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return [*path[path.index(following) :], following]
            if following not in state:
                found = visit(following)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _where(source: str, target: str) -> str:
    lines = sorted(line for name, imported, line in EDGES if (name, imported) == (source, target))
    return f"{MODULES[source].name}:{lines[0]}" if lines else "?"


def test_the_modules_were_found():
    assert {"catsort", "catsort.api", "catsort.session", "catsort.cli.classify"} <= MODULES.keys()
    assert ("catsort.session", "catsort.sorting.journal") in {(a, b) for a, b, _ in EDGES}


def test_no_import_cycle_between_modules():
    graph: dict[str, set[str]] = {}
    for name, imported, _ in EDGES:
        graph.setdefault(name, set()).add(imported)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(
        f"{a} ({_where(a, b)})" for a, b in itertools.pairwise(cycle)
    )


def test_no_import_cycle_between_subpackages():
    graph: dict[str, set[str]] = {}
    for name, imported, _ in EDGES:
        if _unit(name) != _unit(imported):
            graph.setdefault(_unit(name), set()).add(_unit(imported))
    cycle = _cycle(graph)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_layer_and_those_below(module):
    higher = sorted(
        {
            f"{imported} ({_where(module, imported)})"
            for name, imported, _ in EDGES
            if name == module and _layer(imported) > _layer(module)
        }
    )
    assert not higher, f"{module} imports from a higher layer: {', '.join(higher)}"


def _cli_may_import(module: str) -> bool:
    if module in ("catsort", "catsort.api"):
        return True
    return any(module == ok or module.startswith(ok + ".") for ok in CLI_MAY_IMPORT)


def test_the_command_line_imports_only_the_public_api_and_its_own_modules():
    outside = sorted(
        {
            f"{name} imports {imported} ({_where(name, imported)})"
            for name, imported, _ in EDGES
            if _unit(name) == "catsort.cli" and not _cli_may_import(imported)
        }
    )
    assert not outside, "\n".join(outside)
