"""The docs: README and the site's pages run as written, and nothing public goes undocumented.

Every ```python block of README and of the docs' pages runs (a page's blocks in order, in one
namespace, in a folder holding a copy of samples/), every `catsort` command in a ```bash block
is parsed by the real command line, and every command, option and public name has its place in
the site.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import catsort
from catsort.cli import app

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
README = REPO / "README.md"
PAGES = sorted(DOCS.rglob("*.md"))
CLI_PAGE = DOCS / "cli.md"
API_PAGES = sorted((DOCS / "api").glob("*.md"))
README_MAX_LINES = 250

runner = CliRunner()
# The click group behind the Typer app (Typer 0.28 vendors its own click: no click types here).
COMMAND = typer.main.get_command(app)
COMMANDS: dict[str, Any] = COMMAND.commands  # type: ignore[attr-defined]


def _name(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _fences(path: Path, language: str) -> list[str]:
    """The fenced code blocks of a Markdown file in one language, dedented, in order."""
    text = path.read_text(encoding="utf-8")
    pattern = rf"^( *)```{language}\n(.*?)^\1```"
    return [
        "\n".join(line[len(indent) :] for line in body.splitlines()) + "\n"
        for indent, body in re.findall(pattern, text, re.S | re.M)
    ]


def _shell_lines(path: Path) -> list[str]:
    """The commands of a file's bash blocks (continued lines joined) and its indented blocks."""
    lines = []
    for block in _fences(path, "bash"):
        lines += block.replace("\\\n", " ").splitlines()
    text = path.read_text(encoding="utf-8")
    lines += re.findall(r"^    ((?:python|catsort) .*)$", text, re.M)
    return [line.strip() for line in lines if line.strip()]


def _commands(line: str) -> list[list[str]]:
    """Each simple command of a shell line, up to its first redirection, comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    stopped = False
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            commands.append([])
            stopped = False
        elif token and set(token) <= set("<>&"):
            stopped = True  # a redirection: what follows is a file name, not an argument
        elif not stopped:
            commands[-1].append(token)
    return [command for command in commands if command]


def _doc_files() -> list[Path]:
    return [README, *PAGES]


def _catsort_commands() -> list[tuple[str, list[str]]]:
    return [
        (f"{_name(path)}: {line}", command[1:])
        for path in _doc_files()
        for line in _shell_lines(path)
        for command in _commands(line)
        if command[0] == "catsort"
    ]


def _cases(found: list[tuple[Any, ...]]) -> list[Any]:
    """Test cases named by where they were found: "docs/tags.md: catsort classify ..."."""
    return [pytest.param(*case, id=" ".join(case[0].split("  #")[0].split())) for case in found]


# --- the examples run ----------------------------------------------------------------------


def _check_readme(folder: Path, output: str) -> None:
    names = dict(line.split(" ", 1) for line in output.splitlines() if ".jpg " in line)
    assert names["cat.2043.jpg"].startswith("cat ")
    assert names["dog.2114.jpg"].startswith("dog ")
    assert names["car.jpg"].startswith("other ")
    assert not (folder / "sorted").exists()  # the dry run touched nothing


def _check_classify(folder: Path, output: str) -> None:
    assert re.search(r"^cat\.2043\.jpg cat ", output, re.M)
    assert re.search(r"^car\.jpg other ", output, re.M)
    assert "uncertain at 0.9999" in output
    assert re.search(r"^error \S", output, re.M)  # the broken file, with its reason


def _check_sorting(folder: Path, output: str) -> None:
    assert (folder / "photos" / "cat" / "cat.2043.jpg").is_file()
    assert (folder / "photos" / "dog" / "dog.2114.jpg").is_file()
    assert (folder / "photos" / "car.jpg").is_file()  # other: left where it was
    assert {p.name for p in (folder / "sorted").iterdir()} == {"cat", "dog", ".catsort"}
    assert not list((folder / "sorted").rglob("flower.jpg"))  # excluded
    assert "<rdf:li>Pets|Cat</rdf:li>" in (folder / "tagged" / "cat.2043.xmp").read_text()


def _check_undo(folder: Path, output: str) -> None:
    assert "5 put back; 0 left alone" in output
    assert "[True]" in output
    photos = {p.name for p in (folder / "photos").iterdir()} - {".catsort"}
    assert photos == {p.name for p in (REPO / "samples").iterdir()}


def _check_results(folder: Path, output: str) -> None:
    assert "('cat', 'dog') 8 rows" in output
    assert re.search(r"^\s+cat\s+\d+\s+[\d.]+ %$", output, re.M)


def _check_session(folder: Path, output: str) -> None:
    assert re.search(r"^cat\.2043\.jpg cat sorted/cat/cat\.2043\.jpg$", output, re.M)
    assert re.search(r"^5 copied; undo with journal-\S+\.jsonl$", output, re.M)
    assert "plan: dog.2114.jpg -> by-label/dog/dog.2114.jpg" in output
    assert not (folder / "by-label").exists()  # the dry run touched nothing
    assert (folder / "samples" / "cat.2043.jpg").is_file()  # copied, not moved


def _check_watch(folder: Path, output: str) -> None:
    assert (folder / "Inbox" / "cat" / "cat.2043.jpg").is_file()
    assert (folder / "Inbox" / "dog" / "dog.2114.jpg").is_file()
    assert (folder / "Inbox" / "car.jpg").is_file()  # other: left where it was
    assert output.strip().endswith("5 moved")


def _check_review(folder: Path, output: str) -> None:
    assert re.search(r"^1 decided; corrected CSV: results\.reviewed\.csv$", output, re.M)
    assert re.search(r"^dog person$", output, re.M)  # the next run: the person's label
    header = (folder / "results.reviewed.csv").read_text().splitlines()[0]
    assert header.endswith(",cached,frames,decided_by")


def _check_errors(folder: Path, output: str) -> None:
    assert "no-such-folder: no such file or folder" in output


CHECKS: dict[str, Callable[[Path, str], None]] = {
    "README.md": _check_readme,
    "docs/api/index.md": _check_readme,
    "docs/api/classify.md": _check_classify,
    "docs/api/sorting.md": _check_sorting,
    "docs/api/undo.md": _check_undo,
    "docs/api/results.md": _check_results,
    "docs/api/errors.md": _check_errors,
    "docs/api/session.md": _check_session,
    "docs/api/watch.md": _check_watch,
    "docs/api/review.md": _check_review,
}
EXAMPLE_FILES = [path for path in _doc_files() if _fences(path, "python")]


def test_every_page_with_python_examples_has_its_checks() -> None:
    assert sorted(CHECKS) == sorted(_name(path) for path in EXAMPLE_FILES)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_name)
def test_python_examples_run_as_written(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    monkeypatch.chdir(tmp_path)
    if path.parent.name == "api":  # what the page's shell examples make first (a results CSV)
        for line in _shell_lines(path):
            for command in _commands(line):
                result = runner.invoke(app, command[1:])
                assert result.exit_code == 0, f"{line}\n{result.output}"
    code = "\n".join(_fences(path, "python"))
    exec(compile(code, str(path), "exec"), {"__name__": "__main__"})
    CHECKS[_name(path)](tmp_path, capsys.readouterr().out)
    samples = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert samples == sorted(p.name for p in (REPO / "samples").iterdir())


# --- the shell examples are valid commands -------------------------------------------------


def test_the_docs_show_every_command_in_a_shell_example() -> None:
    shown = {args[0] for _, args in _catsort_commands() if args and args[0] in COMMANDS}
    assert shown == set(COMMANDS)


@pytest.mark.parametrize(("where", "args"), _cases(_catsort_commands()))
def test_shell_examples_parse_with_the_real_command_line(where: str, args: list[str]) -> None:
    if not args or args[0].startswith("-"):  # catsort --version, catsort --help
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{where}\n{result.output}"
        return
    assert args[0] in COMMANDS, f"{where}: no command {args[0]!r}"
    parent = COMMAND.make_context("catsort", list(args))
    try:
        COMMANDS[args[0]].make_context(args[0], args[1:], parent=parent)
    except Exception as exc:  # click's UsageError, from Typer's own click or the real one
        message = exc.format_message() if hasattr(exc, "format_message") else exc
        pytest.fail(f"{where}: {message}")


def _options(command: Any) -> set[str]:
    return {
        name
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
    }


def _inline_commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in _doc_files():
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"`catsort ([a-z][\w-]*)((?: [^`]*)?)`", text):
            options = re.findall(r"(?<!\S)(--?[a-z][\w-]*)", match.group(2))
            found.append((f"{_name(path)}: {match.group(0)}", match.group(1), options))
    return found


@pytest.mark.parametrize(("where", "name", "options"), _cases(_inline_commands()))
def test_commands_named_in_the_text_exist_with_their_options(
    where: str, name: str, options: list[str]
) -> None:
    assert name in COMMANDS, f"{where}: no command {name!r}"
    unknown = set(options) - _options(COMMANDS[name]) - {"--help"}
    assert not unknown, f"{where}: catsort {name} has no {', '.join(sorted(unknown))}"


def _python_commands() -> list[tuple[str, Path, list[str]]]:
    """`python -m catsort...` and `python benchmarks/...` examples, with the script they run."""
    found = []
    for path in _doc_files():
        for line in _shell_lines(path):
            for command in _commands(line):
                if command[0] != "python" or command[1:3] == ["-m", "pytest"]:
                    continue
                if command[1] == "-m":
                    module = command[2].replace("catsort.training.", "training.")
                    script, args = REPO / (module.replace(".", "/") + ".py"), command[3:]
                else:
                    script, args = REPO / command[1], command[2:]
                found.append((f"{_name(path)}: {line}", script, args))
    return found


@pytest.mark.parametrize(("where", "script", "args"), _cases(_python_commands()))
def test_python_scripts_in_the_docs_take_the_options_shown(
    where: str, script: Path, args: list[str]
) -> None:
    assert script.is_file(), f"{where}: no {script}"
    # The option names argparse declares, read from the source (the training scripts would
    # import TensorFlow to build their parsers).
    declared = set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            declared |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    options = {arg.split("=")[0] for arg in args if arg.startswith("--")}
    assert options <= declared, f"{where}: {script.name} has no {options - declared}"


# --- everything is documented --------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match is not None, f"no section {heading!r}"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option_is_in_the_command_line_page(name: str) -> None:
    section = _section(CLI_PAGE.read_text(encoding="utf-8"), f"## catsort {name}")
    missing = sorted(option for option in _options(COMMANDS[name]) if f"`{option}" not in section)
    assert not missing, f"docs/cli.md, catsort {name}: {', '.join(missing)} undocumented"


PUBLIC = [name for name in catsort.__all__ if name != "__version__"]


def _directives() -> dict[str, str]:
    """`::: catsort.NAME` directives of the API pages: name -> page."""
    return {
        name: _name(page)
        for page in API_PAGES
        for name in re.findall(r"^::: catsort\.(\w+)\s*$", page.read_text(), re.M)
    }


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_a_docstring_and_a_place_in_the_api_pages(name: str) -> None:
    assert inspect.getdoc(getattr(catsort, name)), f"catsort.{name} has no docstring"
    assert name in _directives(), f"no `::: catsort.{name}` in docs/api/"


def test_the_api_pages_document_only_public_names() -> None:
    assert set(_directives()) <= set(PUBLIC)


# --- README and links ----------------------------------------------------------------------


def test_readme_keeps_to_what_a_newcomer_needs() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    # The two set-up commands, exactly.
    assert "pip install . && catsort classify samples --csv -\n" in text
    test_command = 'pip install -e ".[train,test]" && python -m pytest\n'
    assert "python3 -m venv .venv && . .venv/bin/activate && " + test_command in text


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc gives a heading (markup removed first)."""
    text = re.sub(r"[`*]|\[([^]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def _readme_links() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]


@pytest.mark.parametrize("target", _readme_links())
def test_readme_links_lead_to_a_file_and_its_heading(target: str) -> None:
    file, _, anchor = target.partition("#")
    path = REPO / file
    assert path.exists(), f"README links to {file}, which does not exist"
    if anchor:
        headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
        assert anchor in {_slug(h) for h in headings}, f"{file} has no heading #{anchor}"


def _paths_named() -> list[tuple[str, str]]:
    roots = "catsort|training|tests|benchmarks|exported|\\.ci"
    return sorted(
        {
            (f"{_name(path)}: {found}", found)
            for path in _doc_files()
            for found in re.findall(rf"`((?:{roots})/[\w./-]*)`", path.read_text(encoding="utf-8"))
        }
    )


@pytest.mark.parametrize(("where", "named"), _cases(_paths_named()))
def test_files_the_docs_name_exist(where: str, named: str) -> None:
    # The checkout keeps catsort.training in training/ (catsort/__init__.py says why).
    path = REPO / re.sub(r"^catsort/training/", "training/", named)
    assert path.exists(), f"{where}: no such file"


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
