"""Classifying a stream of files: order kept, bad files reported, the run goes on."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from conftest import BLUE, GREEN, GREY, RED, png_bomb
from PIL import Image

from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import Classifier, load_model
from catsort.pipeline import classify_paths, split_threads


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return load_model(tiny_model, threads=1)


def _labels(results) -> list[str]:
    return [r.prediction.label if r.ok else "error" for r in results]


def test_results_come_in_input_order_across_batches(tmp_path, make_photo, classifier):
    colours = {"cat": RED, "dog": BLUE, OTHER: GREEN, UNCERTAIN: GREY}
    expected = [list(colours)[i * 7 % 4] for i in range(23)]
    paths = [
        make_photo(tmp_path / f"{i:02}.png", colours[label]) for i, label in enumerate(expected)
    ]
    results = list(classify_paths(paths, classifier, batch_size=4, workers=3))
    assert [r.path for r in results] == paths
    assert _labels(results) == expected
    dog = results[expected.index("dog")].prediction
    assert dog.confidence > 0.99 and dog.probabilities["dog"] == dog.confidence
    assert dog.pet_score > 0.9


def test_any_number_of_workers_gives_the_same_results(tmp_path, make_photo, classifier):
    colours = [RED, BLUE, GREEN, GREY]
    paths = [make_photo(tmp_path / f"{i:02}.png", colours[i % 4]) for i in range(30)]
    (tmp_path / "09.png").write_bytes(b"")  # an error inside a batch
    one = list(classify_paths(paths, classifier, batch_size=3, workers=1))
    for workers in (2, 5):
        assert list(classify_paths(paths, classifier, batch_size=3, workers=workers)) == one
    assert [r.path for r in one] == paths and one[9].error == "empty file"


def test_each_worker_loads_at_most_one_copy_of_the_model(
    tmp_path, make_photo, classifier, monkeypatch
):
    copies = []
    original = Classifier.copy
    monkeypatch.setattr(Classifier, "copy", lambda self: copies.append(1) or original(self))
    paths = [make_photo(tmp_path / f"{i:02}.png", RED) for i in range(40)]
    assert _labels(classify_paths(paths, classifier, batch_size=2, workers=3)) == ["cat"] * 40
    assert len(copies) <= 2  # the classifier given is the first worker's
    copies.clear()
    assert _labels(classify_paths(paths[:1], classifier, workers=3)) == ["cat"]
    assert copies == []  # one photo: one batch, no second model


@pytest.mark.parametrize(
    ("total", "split"),
    [(1, (1, 1)), (2, (2, 1)), (4, (4, 1)), (6, (4, 1)), (8, (4, 2)), (16, (4, 4))],
)
def test_threads_are_split_into_at_most_four_workers(total, split):
    assert split_threads(total) == split


def test_default_threads_follow_the_usable_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert split_threads() == (3, 1)


def test_threshold_and_gate_options_reach_the_decision(tmp_path, make_photo, classifier):
    yellow = make_photo(tmp_path / "yellow.png", (230, 230, 20))  # cat-like, but gated out
    assert _labels(classify_paths([yellow], classifier)) == [OTHER]
    assert _labels(classify_paths([yellow], classifier, use_gate=False)) == ["cat"]
    assert _labels(classify_paths([yellow], classifier, gate_threshold=0.01)) == ["cat"]
    assert _labels(classify_paths([yellow], classifier, use_gate=False, threshold=0.9999)) == [
        UNCERTAIN
    ]


def _animated_gif(path: Path) -> None:
    frames = [Image.new("RGB", (20, 20), c) for c in (RED, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _truncated_jpeg(path: Path) -> None:
    Image.effect_noise((200, 200), 80).convert("RGB").save(path, quality=90)
    path.write_bytes(path.read_bytes()[:2000])


BAD_FILES = {
    "empty.jpg": lambda p: p.write_bytes(b""),
    "text.jpg": lambda p: p.write_text("not a photo"),
    "cut.jpg": _truncated_jpeg,
    "folder.jpg": lambda p: p.mkdir(),
    "dangling.jpg": lambda p: p.symlink_to(p.parent / "missing.jpg"),
    "bomb.png": lambda p: p.write_bytes(png_bomb(30000, 30000)),
}


def test_bad_files_become_error_results_and_the_run_goes_on(tmp_path, make_photo, classifier):
    paths = []
    for name, make in BAD_FILES.items():
        paths.append(make_photo(tmp_path / f"good-{name}.png", RED))
        make(tmp_path / name)
        paths.append(tmp_path / name)
    results = list(classify_paths(paths, classifier, batch_size=3))
    assert [r.path for r in results] == paths
    good, bad = results[0::2], results[1::2]
    assert _labels(good) == ["cat"] * len(BAD_FILES)
    for result in bad:
        assert not result.ok and result.prediction is None
        assert result.error and "\n" not in result.error
        assert str(result.path) not in result.error  # the path has its own CSV column
    reasons = dict(zip(BAD_FILES, (r.error for r in bad)))
    assert reasons["empty.jpg"] == "empty file"
    assert "too large" in reasons["bomb.png"]
    assert "folder" in reasons["folder.jpg"]
    assert reasons["cut.jpg"].startswith("truncated image")


def test_file_deleted_after_the_walk_is_an_error(tmp_path, make_photo, classifier):
    paths = [make_photo(tmp_path / f"{i}.png", BLUE) for i in range(3)]
    paths[1].unlink()
    assert _labels(classify_paths(paths, classifier)) == ["dog", "error", "dog"]


def test_unreadable_file_is_an_error(tmp_path, make_photo, classifier):
    path = make_photo(tmp_path / "secret.png", RED)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: the file stays readable")
        [result] = classify_paths([path], classifier)
        assert result.error == "permission denied"
    finally:
        path.chmod(0o644)


def test_only_error_files_give_only_error_results(tmp_path, classifier):
    paths = [tmp_path / f"{i}.jpg" for i in range(5)]
    for path in paths:
        path.write_bytes(b"")
    assert _labels(classify_paths(paths, classifier, batch_size=2)) == ["error"] * 5


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("a.jpg", {}),
        ("a.png", {}),
        ("a.gif", {}),
        ("a.bmp", {}),
        ("a.tif", {}),
        ("a.webp", {}),
        ("a.heic", {}),
        ("a.png", {"mode": "CMYK"}),
        ("a.png", {"mode": "P"}),
    ],
)
def test_formats_classify_the_same(tmp_path, make_photo, classifier, name, args):
    if args.get("mode") == "CMYK":
        name = "a.tif"
    path = make_photo(tmp_path / name, BLUE, **args)
    assert _labels(classify_paths([path], classifier)) == ["dog"]


def test_paths_are_read_lazily_and_work_stays_bounded(tmp_path, make_photo, classifier):
    photo = make_photo(tmp_path / "a.png", RED)
    drawn = 0

    def endless():
        nonlocal drawn
        while True:
            drawn += 1
            yield photo

    results = classify_paths(endless(), classifier, batch_size=4, workers=2)
    first = list(itertools.islice(results, 10))
    results.close()
    assert _labels(first) == ["cat"] * 10
    assert drawn <= 12 + (2 + 1) * 4  # the batch being read, and one per worker plus one


def test_tiny_images_are_skipped_and_animated_gifs_classified(tmp_path, make_photo, classifier):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    _animated_gif(tmp_path / "anim.gif")  # red first frame, then blue
    paths = [tmp_path / "dot.png", tmp_path / "anim.gif", make_photo(tmp_path / "b.png", BLUE)]
    dot, anim, blue = classify_paths(paths, classifier)
    assert dot.skipped == "too small to tell (1x1 pixels)"
    assert dot.error is None and dot.prediction is None and not dot.ok
    assert anim.ok and anim.prediction is not None and anim.prediction.label == "cat"
    assert blue.prediction is not None and blue.prediction.label == "dog"


# --- videos -------------------------------------------------------------------------------------


def test_a_video_is_one_result_from_a_few_of_its_frames(tmp_path, make_photo, classifier):
    from videofile import write_clip

    paths = [
        write_clip(tmp_path / "a_cat.mp4", RED, seconds=3),
        make_photo(tmp_path / "b_dog.png", BLUE),
        write_clip(tmp_path / "c_dog.mov", BLUE, seconds=3),
        write_clip(tmp_path / "d_lawn.mp4", GREEN, seconds=3),
        tmp_path / "e_gone.mp4",
    ]
    results = list(classify_paths(paths, classifier, batch_size=2, workers=2))
    assert [r.path for r in results] == paths
    assert _labels(results) == ["cat", "dog", "dog", OTHER, "error"]
    assert [r.frames for r in results] == [3, None, 3, 3, 0]  # None: a photo
    assert results[0].prediction.confidence > 0.99


@pytest.mark.parametrize(
    ("frames", "label"),
    [
        ([RED, RED, GREEN], "cat"),  # the cat walks out of the picture: still a cat
        ([GREEN, RED, GREEN], OTHER),  # one frame of three looks like a pet: not enough
        ([RED, BLUE, BLUE], "dog"),  # a dog, and a cat passing: the frames are averaged
    ],
)
def test_a_clips_frames_are_weighed_together(tmp_path, classifier, frames, label):
    from videofile import write_clip

    clip = write_clip(tmp_path / "clip.mp4", frames, seconds=3)
    (result,) = classify_paths([clip], classifier)
    assert (result.label, result.frames) == (label, 3)


def test_a_batch_of_videos_holds_about_as_many_rows_as_one_of_photos(
    tmp_path, make_photo, classifier, monkeypatch
):
    from videofile import write_clip

    from catsort.video import FRAMES

    rows: list[int] = []
    predict = Classifier.predict
    monkeypatch.setattr(
        Classifier, "predict", lambda self, batch: rows.append(len(batch)) or predict(self, batch)
    )
    clip = write_clip(tmp_path / "clip.mp4", RED, seconds=3)
    paths = [clip if i % 3 else make_photo(tmp_path / f"{i}.png", RED) for i in range(12)]
    results = list(classify_paths(paths, classifier, batch_size=4, workers=1))
    assert _labels(results) == ["cat"] * 12
    assert sum(rows) == 8 * FRAMES + 4
    assert max(rows) <= 4 + FRAMES - 1
