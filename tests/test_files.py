"""Writing files all or nothing, and the words of an error: catsort.files and catsort.errors."""

from __future__ import annotations

import os

import pytest

from catsort import files
from catsort.errors import CatsortError, SettingsError, one_line, os_reason, without_path


def test_a_new_file_goes_only_into_a_free_name(tmp_path):
    target = tmp_path / "x.xmp"
    files.write_atomic(target, b"first", replace=False)
    assert target.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        files.write_atomic(target, b"second", replace=False)
    assert target.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["x.xmp"], "no temporary file left behind"


def test_a_replacement_keeps_the_permissions_and_a_failed_check_changes_nothing(tmp_path):
    target = tmp_path / "job.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    files.write_atomic(target, b"new", replace=True)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640

    def changed() -> None:
        raise CatsortError(f"{target}: changed meanwhile")

    with pytest.raises(CatsortError, match="changed meanwhile"):
        files.write_atomic(target, b"newer", replace=True, check=changed)
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["job.json"]


def test_remove_quietly_leaves_what_is_not_there(tmp_path):
    files.remove_quietly(tmp_path / "nothing")
    (tmp_path / "x").write_bytes(b"")
    files.remove_quietly(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_settings_error_names_the_api_fields_unless_told_the_flags():
    error = SettingsError("{dest:{folder}}: is a file; {use_gate:=False} and {dest}", folder="/x")
    assert str(error) == "dest=/x: is a file; use_gate=False and dest="
    flags = {"dest": "--dest", "use_gate": "--no-gate"}
    assert error.spelled(flags) == "--dest /x: is a file; --no-gate and --dest"
    plain = CatsortError("/x {braces}: kept as written")
    assert plain.spelled(flags) == "/x {braces}: kept as written"


def test_messages_come_on_one_line_without_their_path():
    assert one_line(ValueError("a\n  b")) == "a b" and one_line(ValueError()) == "ValueError"
    assert without_path("/x/y.jpg: truncated", "/x/y.jpg") == "truncated"
    assert os_reason(PermissionError(13, "Permission denied")) == "permission denied"
