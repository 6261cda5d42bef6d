"""catsort review on the command line: one URL on stdout, Ctrl-C ends it with a summary, a second
review waits its turn, --port, --export."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import BLUE, RED
from typer.testing import CliRunner

import catsort
from catsort.cli import app
from catsort.model import load_model

runner = CliRunner()


@pytest.fixture
def library(photos: Path, tiny_model: Path) -> Path:
    """photos/ sorted with --move: cat/kitty.jpg, dog/trip/rex.png; blur.png (uncertain) and
    tree.png (other) where they were."""
    result = runner.invoke(app, ["classify", "--model", str(tiny_model), str(photos), "--move"])
    assert result.exit_code == 0, result.output
    return photos


def review(*args: object):
    return runner.invoke(app, ["review", *map(str, args)])


def test_export_writes_class_folders_for_catsort_train(library, tiny_model, tmp_path, make_photo):
    make_photo(library / "more" / "cat2.jpg", RED)
    make_photo(library / "more" / "dog2.jpg", BLUE)
    with catsort.open_review(library, load_model(tiny_model)) as opened:
        ids = {item.shown: item.id for item in opened.items}
        opened.decide([ids["blur.png"], ids["more/cat2.jpg"]], "cat")
        opened.decide([ids["dog/trip/rex.png"], ids["more/dog2.jpg"]], "dog")
        opened.decide([ids["tree.png"]], "other")
    out = tmp_path / "mine"
    result = review(library, "--export", out, "--model", tiny_model)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "cat/blur.png",
        "cat/cat2.jpg",
        "dog/dog2.jpg",
        "dog/rex.png",
    ]
    assert os.path.samefile(out / "cat" / "blur.png", library / "cat" / "blur.png")  # a link
    assert "4 linked" in result.stderr and "Left out 1: not a pet" in result.stderr
    assert f"catsort train --data {out}" in result.stderr
    again = review(library, "--export", out, "--model", tiny_model)
    assert "4 there already" in again.stderr


# --- the command line ------------------------------------------------------------------------


def test_a_second_review_of_the_same_library_exits_2(library, tiny_model):
    with catsort.open_review(library, load_model(tiny_model)):
        second = review(library, "--no-browser", "--model", tiny_model)
    assert second.exit_code == 2, second.output
    assert "another catsort run" in second.stderr
    assert second.stdout == ""


def test_a_folder_no_run_sorted_is_refused(tmp_path, tiny_model, make_photo):
    make_photo(tmp_path / "plain" / "x.jpg", RED)
    result = runner.invoke(app, ["review", str(tmp_path / "plain"), "--model", str(tiny_model)])
    assert result.exit_code == 2
    assert "no catsort run sorted or tagged this folder" in result.stderr


def test_a_port_in_use_exits_2(library, tiny_model):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = runner.invoke(
            app,
            ["review", str(library), "--no-browser", "--port", str(port)]
            + ["--model", str(tiny_model)],
        )
    finally:
        taken.close()
    assert result.exit_code == 2, result.output
    assert f"127.0.0.1:{port}: cannot listen there" in result.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_command_prints_the_url_alone_and_ctrl_c_ends_it_with_a_summary(
    library, tiny_model, stop
):
    command = [sys.executable, "-m", "catsort", "review", str(library), "--no-browser"]
    process = subprocess.Popen(
        [*command, "--model", str(tiny_model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32,}", url), url
        base, token = url.split("/?token=")
        with urllib.request.urlopen(url, timeout=30) as page:
            data = re.search(rb'id="data">(.*?)</script>', page.read(), re.S)
        assert data is not None
        rows = json.loads(data.group(1))["items"]  # id and path first in each
        blur = next(row[0] for row in rows if row[1] == "blur.png")
        request = urllib.request.Request(
            f"{base}/api/decide",
            data=json.dumps({"ids": [blur], "label": "dog"}).encode(),
            headers={"X-Catsort-Token": token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.load(answer)["decided"] == 1
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/", timeout=30)
        assert refused.value.code == 401
        time.sleep(0.2)
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out == "", "the URL is the only line on stdout"
    assert "Decided 1 photo: 1 dog. Moved 1." in err
    assert "catsort undo" in err
    assert (library / "dog" / "blur.png").is_file()
    assert not (library / ".catsort" / "lock").exists()  # the session closed: the lock let go
