"""The commit-msg hook (.ci/commit_subject.py): subjects of at most 72 characters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOOK = REPO / ".ci" / "commit_subject.py"


def _check(tmp_path: Path, message: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(HOOK), str(path)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "message",
    [
        "x" * 72 + "\n",
        "docs: " + "é—" * 33 + "\n",  # 72 characters, more bytes
        "short subject\n\n" + "a long body line " * 20 + "\n",
        "# Please enter the commit message\n" + "y" * 72 + "\n",
    ],
)
def test_a_subject_of_72_characters_or_fewer_passes(tmp_path: Path, message: str) -> None:
    run = _check(tmp_path, message)
    assert run.returncode == 0, run.stderr


def test_a_subject_over_72_characters_is_refused_with_its_length(tmp_path: Path) -> None:
    run = _check(tmp_path, "z" * 73 + "\n\nbody\n")
    assert run.returncode == 1
    assert "73 characters; keep it to 72" in run.stderr
    assert "z" * 73 in run.stderr


def test_pre_commit_installs_the_hook_for_commit_messages() -> None:
    config = (REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert "default_install_hook_types: [pre-commit, commit-msg]" in config
    hook = config[config.index("- id: commit-subject") :]
    assert "entry: python .ci/commit_subject.py" in hook
    assert "stages: [commit-msg]" in hook
