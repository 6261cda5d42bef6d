"""The Ray engine over a real S3 API (moto in server mode on 127.0.0.1) and local Ray."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

for _name in ("ray", "ray.data", "pyarrow", "fsspec", "s3fs", "boto3", "moto.server"):
    pytest.importorskip(_name, reason='the Ray engine tests need pip install ".[distributed]"')

import boto3  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from conftest import BLUE, GREEN, GREY, RED  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import catsort  # noqa: E402
from catsort.cli import app  # noqa: E402

runner = CliRunner()

BUCKET = "pets"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _photo(color: tuple[int, int, int], size=(40, 30), kind: str = "JPEG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, kind)
    return buffer.getvalue()


def _library() -> dict[str, bytes]:
    """About 30 photos with known answers, bad files among them, as {relative name: bytes}."""
    colors = {"cat": RED, "dog": BLUE, "other": GREEN, "uncertain": GREY}
    files = {}
    for i in range(6):
        for name, color in colors.items():
            folder = "trip/" if i % 2 else ""
            kind = "PNG" if i % 3 == 0 else "JPEG"
            files[f"{folder}{name}-{i}.{kind.lower()}"] = _photo(color, kind=kind)
    whole = _photo(RED, (200, 150))
    files["bad/truncated.jpg"] = whole[: len(whole) // 2]
    files["bad/empty.jpg"] = b""
    files["bad/notes.jpg"] = b"not a photo at all"
    files["bad/tiny.png"] = _photo(BLUE, (4, 4), "PNG")  # too small to tell: skipped
    files["notes.txt"] = b"not an image name: never listed"
    files[".hidden.jpg"] = _photo(RED)  # hidden: never listed
    return files


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 that checks credentials, with one IAM user's in the env."""
    from moto import settings
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "setup")
        env.setenv("AWS_SECRET_ACCESS_KEY", "setup")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        iam = boto3.client("iam")
        iam.create_user(UserName="catsort")
        iam.put_user_policy(UserName="catsort", PolicyName="all", PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="catsort")["AccessKey"]
        env.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        env.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        for name, content in _library().items():
            client.put_object(Bucket=BUCKET, Key=f"library/{name}", Body=content)
        client.create_bucket(Bucket="results")
        # From here on every request is checked against the IAM user's keys (the server runs
        # in this process, so its settings are these).
        saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        try:
            yield endpoint
        finally:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = saved
            server.stop()


@pytest.fixture(scope="module")
def ray_cluster(s3):
    """Local Ray with two CPUs, no dashboard, no usage statistics; its address."""
    import ray

    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # Started after the S3 variables are set: its workers inherit them.
        context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield context.address_info["gcs_address"]
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def local_library(tmp_path_factory) -> Path:
    """The bucket's photos as local files, for the local engine."""
    root = tmp_path_factory.mktemp("library")
    for name, content in _library().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def _rows(output: Path) -> list[dict]:
    """Every row of the Parquet parts in an output folder."""
    rows = []
    for part in sorted(output.glob("part-*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    return rows


def _classify(*args: str):
    return runner.invoke(app, ["classify", *args])


def test_ray_rows_equal_local_rows(ray_cluster, local_library, tiny_model, tmp_path):
    """Labels, probabilities and error rows are those of the local engine, file for file."""
    out = tmp_path / "out"
    source = f"s3://{BUCKET}/library"
    result = _classify(source, "--engine", "ray", "--output", str(out), "--model", str(tiny_model))
    assert result.exit_code == 1, result.output  # the bad files are errors, as locally
    ray_rows = {row["path"].removeprefix(f"s3://{BUCKET}/library/"): row for row in _rows(out)}
    model = catsort.load_model(tiny_model)
    local = {
        r.path.relative_to(local_library).as_posix(): r
        for r in catsort.classify(local_library, model)
    }
    assert sorted(ray_rows) == sorted(local)
    assert len(ray_rows) == 28  # 24 photos, 4 bad files
    for name, expected in local.items():
        row = ray_rows[name]
        assert (row["label"], row["status"]) == (expected.label, expected.status), name
        assert row["error"] == (expected.error or expected.skipped), name
        for label, p in expected.probabilities.items():
            assert abs(row[f"p_{label}"] - p) < 1e-6, name
        if expected.pet_score is not None:
            assert abs(row["pet_score"] - expected.pet_score) < 1e-6, name
    assert ray_rows["cat-0.png"]["label"] == "cat"
    assert ray_rows["trip/dog-1.jpeg"]["label"] == "dog"
    assert ray_rows["bad/empty.jpg"]["error"] == "empty file"
    assert ray_rows["bad/tiny.png"]["status"] == "skipped"
    assert "error s3://pets/library/bad/notes.jpg: not an image catsort can read" in result.output


def test_rerun_into_a_bucket_adds_nothing(ray_cluster, tiny_model):
    """Results go to a bucket too; a second run finds every photo there and skips it."""
    import s3fs

    target = "s3://results/run"
    args = [f"s3://{BUCKET}/library/trip", "--engine", "ray", "--output", target]
    first = _classify(*args, "--model", str(tiny_model))
    assert first.exit_code == 0, first.output
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    parts = fs.ls("results/run")
    assert parts and all(p.rsplit("/", 1)[-1].startswith("part-") for p in parts)
    again = _classify(*args, "--model", str(tiny_model))
    assert again.exit_code == 0, again.output
    assert "12 photos already in s3://results/run" in again.output
    assert fs.ls("results/run", refresh=True) == parts

    report = runner.invoke(app, ["report", target, "--json"])
    assert report.exit_code == 0, report.output
    summary = json.loads(report.stdout)
    assert (summary["source"], summary["total"], summary["missing_images"]) == (target, 12, 0)
    gone = runner.invoke(app, ["report", "s3://results/no-such-run"])
    assert gone.exit_code == 2, gone.output
    assert "s3://results/no-such-run: no catsort Parquet results there" in gone.output


def test_killed_part_way_then_rerun_has_every_row_once(ray_cluster, tiny_model, tmp_path):
    """A run killed part way, and the same command again: no row missing, none doubled."""
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(160):
        color = (RED, BLUE, GREY, GREEN)[i % 4]
        Image.new("RGB", (640, 480), color).save(photos / f"p{i:03}.png")
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "catsort",
        "classify",
        f"file://{photos}",
        "--engine",
        "ray",
        "--address",
        ray_cluster,
        "--output",
        str(out),
        "--model",
        str(tiny_model),
        "--part-rows",
        "4",
        "--batch-size",
        "2",
        "--threads",
        "2",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).parent.parent,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("part-*.parquet")) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it wrote a part"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    # The cluster outlives the killed driver: its workers may still commit a part or two
    # (whole, by rename) before Ray drops the dead job. Count once the folder stops changing.
    parts, stable_since = None, time.monotonic()
    while time.monotonic() - stable_since < 3:
        now = sorted(out.glob("part-*.parquet"))
        if now != parts:
            parts, stable_since = now, time.monotonic()
        time.sleep(0.1)
    killed = _rows(out)
    assert 0 < len(killed) < 160, "the run was not killed part way"
    # A part the killed run was half way through writing.
    (out / ".tmp-0123-part-abc.parquet").write_bytes(b"PAR1 half a part")

    result = _classify(
        f"file://{photos}", "--engine", "ray", "--output", str(out), "--model", str(tiny_model)
    )
    assert result.exit_code == 0, result.output
    paths = [row["path"] for row in _rows(out)]
    assert len(paths) == len(set(paths)) == 160
    assert set(paths) == {f"file://{p}" for p in photos.glob("*.png")}
    assert not list(out.glob(".tmp-*"))
    assert f"{len(killed)} photos already in" in result.output


def test_wrong_credential_is_one_line_exit_2(ray_cluster, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    result = _classify(
        f"s3://{BUCKET}/library", "--engine", "ray", "--output", str(tmp_path / "out")
    )
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert "s3://pets/library: access denied" in result.output
    assert "AWS_ACCESS_KEY_ID" in result.output


def test_missing_bucket_is_one_line_exit_2(ray_cluster, tmp_path):
    result = _classify("s3://no-such-bucket/x", "--engine", "ray", "--output", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert "s3://no-such-bucket/x: no such bucket, prefix or folder" in result.output


def test_report_reads_the_parquet_output(ray_cluster, tiny_model, tmp_path):
    out = tmp_path / "out"
    args = [f"s3://{BUCKET}/library", "--engine", "ray", "--output", str(out)]
    assert _classify(*args, "--model", str(tiny_model)).exit_code == 1
    result = runner.invoke(app, ["report", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["total"] == 28
    counts = {item["label"]: item["count"] for item in summary["counts"]}
    assert counts["cat"] == counts["dog"] == counts["other"] == counts["uncertain"] == 6
    one_part = sorted(out.glob("part-*.parquet"))[0]
    assert runner.invoke(app, ["report", str(one_part)]).exit_code == 0


def test_a_changed_photo_keeps_one_row_its_newest(ray_cluster, tiny_model, tmp_path):
    """A photo that changed since a run (a truncated upload made whole) is one row, not two."""
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.new("RGB", (64, 48), (RED, BLUE)[i % 2]).save(photos / f"p{i}.png")
    whole = _photo(BLUE, (64, 48))
    (photos / "upload.jpg").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    args = [f"file://{photos}", "--engine", "ray", "--output", str(out), "--part-rows", "3"]
    assert _classify(*args, "--model", str(tiny_model)).exit_code == 1  # the half upload
    before = {part.name: part.read_bytes() for part in out.glob("part-*.parquet")}

    (photos / "upload.jpg").write_bytes(whole)  # the upload finished
    result = _classify(*args, "--model", str(tiny_model))
    assert result.exit_code == 0, result.output
    assert "1 photos had changed since an earlier run" in result.output
    rows = {row["path"]: row for row in _rows(out)}
    assert len(_rows(out)) == len(rows) == 7
    assert rows[f"file://{photos}/upload.jpg"]["label"] == "dog"
    assert rows[f"file://{photos}/upload.jpg"]["status"] == "ok"
    report = runner.invoke(app, ["report", str(out), "--json"])
    summary = json.loads(report.stdout)
    counts = {item["label"]: item["count"] for item in summary["counts"]}
    assert (summary["total"], counts.get("errors", 0)) == (7, 0), report.output

    # Killed after writing a part without the old row, before removing the part that had it:
    # the old part is back, and the next run ends what that one began.
    for name, content in before.items():
        (out / name).write_bytes(content)
    again = _classify(*args, "--model", str(tiny_model))
    assert again.exit_code == 0, again.output
    paths = [row["path"] for row in _rows(out)]
    assert len(paths) == len(set(paths)) == 7
    assert {row["label"] for row in _rows(out) if row["path"].endswith("upload.jpg")} == {"dog"}


def test_the_api_example_runs_on_a_bucket_and_reads_the_results_back(ray_cluster, capsys):
    from conftest import docstring_example

    namespace: dict = {}
    exec(docstring_example(catsort.run_ray), namespace)  # the shipped model, as written there
    summary, rows = namespace["summary"], namespace["rows"]
    assert (summary.files, summary.errors, summary.skipped) == (28, 3, 1)
    assert sorted(row.path for row in rows) == sorted(
        f"s3://{BUCKET}/library/{name}"
        for name in _library()
        if name.endswith((".jpeg", ".png", ".jpg")) and not name.startswith(".")
    )
    assert capsys.readouterr().out.startswith("Counter(")
