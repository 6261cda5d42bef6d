"""A classify run: where photos go, what a dry run leaves alone, and what a second run does."""

from __future__ import annotations

import os

import pytest
from conftest import BLUE, RED

from catsort.errors import USAGE, CatsortError
from catsort.metadata import OTHER, UNCERTAIN
from catsort.model import load_model
from catsort.plan import default_dest, make_plan
from catsort.run import run_classify
from catsort.sorting.place import COPY, MOVE
from catsort.types import Callbacks, RunSettings, SortPlan

LABELS = ("cat", "dog")


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return load_model(tiny_model, threads=1)


def _run(paths, classifier, plan, **settings):
    seen = []
    summary = run_classify(
        list(paths), classifier, plan, RunSettings(**settings), Callbacks(seen.append)
    )
    return summary, {r.path.name: r for r in seen}


# --- planning -----------------------------------------------------------------------------------


def test_label_folders_go_under_dest(tmp_path):
    plan = SortPlan(MOVE, tmp_path)
    assert plan.folder_for("cat", LABELS) == tmp_path / "cat"
    assert plan.folder_for(UNCERTAIN, LABELS) is None
    assert plan.folder_for(OTHER, LABELS) is None
    assert (
        SortPlan(MOVE, tmp_path, tmp_path / "misc").folder_for(OTHER, LABELS) == tmp_path / "misc"
    )
    assert SortPlan().folder_for("cat", LABELS) is None


def test_dest_defaults_to_the_folder_given(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "x.jpg").write_bytes(b"")
    (tmp_path / "y.jpg").write_bytes(b"")
    assert default_dest([tmp_path / "a"]) == tmp_path / "a"
    assert default_dest([tmp_path / "x.jpg", tmp_path / "y.jpg"]) == tmp_path
    with pytest.raises(CatsortError, match="dest="):
        default_dest([tmp_path / "a", tmp_path / "x.jpg"])
    assert (
        make_plan([tmp_path / "a", tmp_path], COPY, dest=tmp_path / "out").dest == tmp_path / "out"
    )


@pytest.mark.parametrize("option", ["dest", "other_dest", "dry_run", "flat"])
def test_sorting_options_need_move_or_copy(tmp_path, option):
    value = True if option in ("dry_run", "flat") else tmp_path
    with pytest.raises(CatsortError, match="needs action='move' or 'copy'") as info:
        make_plan([tmp_path], None, **{option: value})
    assert info.value.kind == USAGE


# --- runs ---------------------------------------------------------------------------------------


def test_classify_only_touches_nothing(photos, classifier, read_tree):
    before = read_tree(photos)
    summary, results = _run([photos], classifier, SortPlan())
    assert read_tree(photos) == before
    assert {name: r.prediction.label for name, r in results.items()} == {
        "kitty.jpg": "cat",
        "rex.png": "dog",
        "blur.png": UNCERTAIN,
        "tree.png": OTHER,
    }
    assert all(r.destination is None for r in results.values())
    assert summary.rows() == [("cat", 1), ("dog", 1), (UNCERTAIN, 1), (OTHER, 1)]
    assert summary.exit_code == 0 and summary.journal is None


def test_move_sorts_model_labels_only(photos, classifier, read_tree):
    summary, results = _run([photos], classifier, make_plan([photos], MOVE))
    tree = sorted(read_tree(photos))
    assert tree == ["blur.png", "cat/kitty.jpg", "dog/trip/rex.png", "tree.png"]
    assert results["kitty.jpg"].destination == photos / "cat" / "kitty.jpg"
    assert results["blur.png"].destination is None and results["tree.png"].destination is None
    assert summary.placed == 2
    assert summary.journal is not None and summary.journal.is_file()


def test_other_dest_takes_the_gated_photos(photos, classifier, tmp_path):
    plan = make_plan([photos], COPY, other_dest=tmp_path / "misc")
    _, results = _run([photos], classifier, plan)
    assert (tmp_path / "misc" / "tree.png").is_file() and (photos / "tree.png").is_file()
    assert results["tree.png"].destination == tmp_path / "misc" / "tree.png"
    assert not (photos / "uncertain").exists() and not (photos / OTHER).exists()


def test_no_gate_sorts_what_the_gate_would_keep(photos, classifier):
    _, results = _run([photos], classifier, make_plan([photos], MOVE), use_gate=False)
    assert results["tree.png"].prediction.label != OTHER


def test_dry_run_plans_distinct_names_and_touches_nothing(
    tmp_path, make_photo, classifier, read_tree
):
    make_photo(tmp_path / "a" / "x.png", RED)
    make_photo(tmp_path / "b" / "x.png", RED)
    make_photo(tmp_path / "cat" / "x.png", BLUE)  # already there from before
    before = read_tree(tmp_path)
    plan = make_plan([tmp_path / "a", tmp_path / "b"], MOVE, dest=tmp_path, dry_run=True)
    summary, _ = _run([tmp_path / "a", tmp_path / "b"], classifier, plan)
    assert read_tree(tmp_path) == before
    assert not (tmp_path / ".catsort").exists()
    assert summary.placed == 2 and summary.journal is None


def test_dry_run_destinations_are_the_ones_a_real_run_uses(tmp_path, make_photo, classifier):
    for folder in ("a", "b"):
        make_photo(tmp_path / folder / "x.png", RED)
    make_photo(tmp_path / "cat" / "x.png", BLUE)
    inputs = [tmp_path / "a", tmp_path / "b"]
    dry: list = []
    run_classify(
        inputs,
        classifier,
        make_plan(inputs, MOVE, dest=tmp_path, dry_run=True, flat=True),
        reporter=Callbacks(dry.append),
    )
    real: list = []
    plan = make_plan(inputs, MOVE, dest=tmp_path, flat=True)
    run_classify(inputs, classifier, plan, reporter=Callbacks(real.append))
    assert (
        [r.destination for r in dry]
        == [r.destination for r in real]
        == [tmp_path / "cat" / "x (1).png", tmp_path / "cat" / "x (2).png"]
    )


@pytest.mark.parametrize("action", [MOVE, COPY])
def test_second_run_changes_nothing(photos, classifier, read_tree, action):
    _run([photos], classifier, make_plan([photos], action))
    after_first = read_tree(photos)
    summary, results = _run([photos], classifier, make_plan([photos], action))
    assert read_tree(photos) == after_first
    assert summary.journal is None
    if action == MOVE:  # the sorted photos are not walked again
        assert set(results) == {"blur.png", "tree.png"}


def test_a_second_copy_run_counts_a_file_as_the_earlier_copy_never_a_symlink(
    photos, classifier, make_photo, tmp_path
):
    (photos / "puss.jpg").symlink_to(make_photo(tmp_path / "elsewhere" / "puss.jpg", RED))
    sorted_cats = tmp_path / "sorted" / "cat"
    plan = make_plan([photos], COPY, dest=tmp_path / "sorted")
    _run([photos], classifier, plan)
    (sorted_cats / "kitty.jpg").rename(tmp_path / "kitty.jpg")
    (sorted_cats / "kitty.jpg").symlink_to(tmp_path / "kitty.jpg")  # the same bytes, but a link
    _, results = _run([photos], classifier, plan)
    assert results["kitty.jpg"].destination == sorted_cats / "kitty (1).jpg"
    assert not (sorted_cats / "kitty (1).jpg").is_symlink()
    assert (sorted_cats / "kitty (1).jpg").read_bytes() == (photos / "kitty.jpg").read_bytes()
    # A symlinked photo was copied from the file it names: that copy still counts.
    assert results["puss.jpg"].destination == sorted_cats / "puss.jpg"
    assert sorted(p.name for p in sorted_cats.iterdir()) == [
        "kitty (1).jpg",
        "kitty.jpg",
        "puss.jpg",
    ]


def _copy(tmp_path, classifier, dry_run=False):
    """A flat --copy run of tmp_path/photos into tmp_path/sorted: {photo's folder: destination}."""
    inputs = [tmp_path / "photos"]
    plan = make_plan(inputs, COPY, dest=tmp_path / "sorted", dry_run=dry_run, flat=True)
    seen: list = []
    summary = run_classify(inputs, classifier, plan, reporter=Callbacks(seen.append))
    return summary, {r.path.parent.name: r.destination for r in seen}


def _cats_named_x(tmp_path, make_photo, folders):
    """A different cat photo named x.png in each of the folders under tmp_path/photos."""
    for i, folder in enumerate(folders):
        make_photo(tmp_path / "photos" / folder / "x.png", RED, size=(24 + 6 * i, 16))


def test_copying_again_finds_the_numbered_copies_of_same_named_photos(
    tmp_path, make_photo, classifier, read_tree
):
    _cats_named_x(tmp_path, make_photo, ["2019", "2020"])
    _, first = _copy(tmp_path, classifier)
    cat = tmp_path / "sorted" / "cat"
    assert first == {"2019": cat / "x.png", "2020": cat / "x (1).png"}
    after_first = read_tree(tmp_path)
    for _ in range(2):
        summary, again = _copy(tmp_path, classifier)
        assert again == first
        assert read_tree(tmp_path) == after_first
        assert summary.journal is None
        assert (summary.placed, summary.earlier) == (0, 2)  # nothing is said to be copied again


def test_a_dry_run_after_a_copy_predicts_the_earlier_copies(
    tmp_path, make_photo, classifier, read_tree
):
    _cats_named_x(tmp_path, make_photo, ["2019", "2020"])
    _, first = _copy(tmp_path, classifier)
    before = read_tree(tmp_path)
    _, predicted = _copy(tmp_path, classifier, dry_run=True)
    assert predicted == first
    assert read_tree(tmp_path) == before


def test_copying_again_looks_past_a_copy_deleted_from_the_middle(
    tmp_path, make_photo, classifier, read_tree
):
    _cats_named_x(tmp_path, make_photo, ["a", "b", "c"])
    _, first = _copy(tmp_path, classifier)
    cat = tmp_path / "sorted" / "cat"
    assert first["c"] == cat / "x (2).png"
    # Photo b dropped from both places leaves a gap in the numbering; then a new photo d comes.
    (tmp_path / "photos" / "b" / "x.png").unlink()
    first["b"].unlink()
    d = make_photo(tmp_path / "photos" / "d" / "x.png", RED, size=(48, 16)).read_bytes()
    c = first["c"].read_bytes()
    _, again = _copy(tmp_path, classifier)
    assert again == {"a": cat / "x.png", "c": cat / "x (2).png", "d": cat / "x (1).png"}
    assert read_tree(cat) == {
        "x.png": (tmp_path / "photos" / "a" / "x.png").read_bytes(),
        "x (1).png": d,
        "x (2).png": c,
    }


def test_a_symlink_in_the_label_folder_is_not_a_copy(tmp_path, make_photo, classifier):
    photo = make_photo(tmp_path / "photos" / "x.png", RED)
    backup = make_photo(tmp_path / "backup" / "x.png", RED)  # the same bytes, elsewhere
    cat = tmp_path / "sorted" / "cat"
    cat.mkdir(parents=True)
    (cat / "x.png").symlink_to(backup)
    _, placed = _copy(tmp_path, classifier)
    assert placed == {"photos": cat / "x (1).png"}
    assert not placed["photos"].is_symlink()
    assert placed["photos"].read_bytes() == photo.read_bytes()


def test_identical_photos_with_the_same_name_are_copied_once(tmp_path, make_photo, classifier):
    for folder in ("a", "b"):
        make_photo(tmp_path / "photos" / folder / "x.png", RED)
    _, placed = _copy(tmp_path, classifier)
    cat = tmp_path / "sorted" / "cat"
    assert placed == {"a": cat / "x.png", "b": cat / "x.png"}
    assert os.listdir(cat) == ["x.png"]


def test_failed_files_are_counted_and_never_moved(photos, classifier):
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    summary, results = _run([photos], classifier, make_plan([photos], MOVE))
    assert (photos / "broken.jpg").is_file()
    assert results["broken.jpg"].error == "not an image catsort can read"
    assert summary.errors == 1 and summary.exit_code == 1
    assert summary.files == 5


def test_a_file_that_cannot_be_moved_is_an_error(photos, classifier):
    (photos / "cat").write_text("a file where the cat folder should be")
    summary, results = _run([photos], classifier, make_plan([photos], MOVE))
    assert (photos / "kitty.jpg").is_file()
    assert "cannot create folder" in results["kitty.jpg"].error
    assert summary.exit_code == 1
    assert (photos / "dog" / "trip" / "rex.png").is_file()  # the rest of the run went on


def test_unreadable_folder_is_reported(photos, classifier):
    locked = photos / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: the folder stays readable")
        summary, results = _run([photos], classifier, SortPlan())
        assert "permission denied" in results["locked"].error
        assert summary.exit_code == 1
    finally:
        locked.chmod(0o755)


def test_missing_input_is_a_usage_error(tmp_path, classifier):
    with pytest.raises(CatsortError, match="no such file") as info:
        run_classify([tmp_path / "nope"], classifier, SortPlan())
    assert info.value.kind == USAGE


@pytest.mark.parametrize(
    ("dest", "other_dest"),
    [(None, ".")],  # --other-dest: the folder being sorted
)
def test_an_input_that_is_a_folder_the_run_fills_is_a_usage_error(
    photos, classifier, read_tree, dest, other_dest
):
    # The walk never enters a folder the run fills: without the error it would find nothing.
    source = photos
    before = read_tree(photos)
    plan = make_plan(
        [source],
        MOVE,
        None if dest is None else source / dest,
        None if other_dest is None else source / other_dest,
    )
    with pytest.raises(CatsortError, match="is where this run puts sorted photos") as info:
        run_classify([source], classifier, plan)
    assert info.value.kind == USAGE
    assert read_tree(photos) == before


def test_a_folder_inside_a_label_folder_is_sorted(photos, classifier, make_photo):
    new = photos / "cat" / "new"
    make_photo(new / "puss.jpg", BLUE)  # a dog filed with the cats
    _, results = _run([new], classifier, make_plan([new], MOVE, photos))
    assert results["puss.jpg"].destination == photos / "dog" / "new" / "puss.jpg"


@pytest.mark.parametrize("option", ["dest=", "other_dest="])
def test_a_destination_that_is_a_file_is_a_usage_error(photos, classifier, tmp_path, option):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    dest, other = (blocker, None) if option == "dest=" else (tmp_path / "out", blocker)
    with pytest.raises(CatsortError, match=f"^{option}.*notes.txt: is a file, not a folder"):
        run_classify([photos], classifier, make_plan([photos], COPY, dest, other))


def test_gate_threshold_needs_a_gated_model(tmp_path, tiny_models):
    classifier = load_model(tiny_models["softmax"], threads=1)
    with pytest.raises(CatsortError, match="no pet gate"):
        run_classify([tmp_path], classifier, SortPlan(), RunSettings(gate_threshold=0.5))


# --- the folder structure -----------------------------------------------------------------------


def test_the_folders_are_kept_relative_to_the_folder_given(tmp_path, make_photo, classifier):
    make_photo(tmp_path / "Photos" / "2019" / "07" / "x.jpg", RED)
    make_photo(tmp_path / "Photos" / "2020" / "y.jpg", BLUE)
    make_photo(tmp_path / "Photos" / "top.jpg", RED)
    root = tmp_path / "Photos"
    _, results = _run([root], classifier, make_plan([root], MOVE))
    assert {r.path.relative_to(root).as_posix(): r.destination for r in results.values()} == {
        "2019/07/x.jpg": root / "cat" / "2019" / "07" / "x.jpg",
        "2020/y.jpg": root / "dog" / "2020" / "y.jpg",
        "top.jpg": root / "cat" / "top.jpg",
    }


def test_several_folders_given_keep_their_paths_below_the_folder_holding_them_all(
    tmp_path, make_photo, classifier
):
    root = tmp_path / "Photos"
    for year in ("2019", "2020"):
        make_photo(root / year / "IMG_0001.jpg", RED, size=(24 + int(year) % 10, 16))
    inputs = [root / "2019", root / "2020"]
    seen: list = []
    run_classify(
        inputs, classifier, make_plan(inputs, MOVE, dest=root), reporter=Callbacks(seen.append)
    )
    assert sorted(r.destination for r in seen) == [
        root / "cat" / "2019" / "IMG_0001.jpg",
        root / "cat" / "2020" / "IMG_0001.jpg",
    ]
    # a photo named on its own goes straight into its label folder
    single = make_photo(tmp_path / "inbox" / "one.jpg", RED)
    seen.clear()
    run_classify([single], classifier, make_plan([single], MOVE), reporter=Callbacks(seen.append))
    assert seen[0].destination == tmp_path / "inbox" / "cat" / "one.jpg"


def test_checking_a_label_folder_of_an_earlier_run_never_nests_it(
    photos, classifier, make_photo, read_tree
):
    _run([photos], classifier, make_plan([photos], MOVE))
    make_photo(photos / "cat" / "2019" / "rex.jpg", BLUE)  # a dog among the cats
    before = read_tree(photos)
    plan = make_plan([photos / "cat"], MOVE, labels=LABELS, dry_run=True)
    assert plan.dest == photos
    _, results = _run([photos / "cat"], classifier, plan)
    assert results["rex.jpg"].destination == photos / "dog" / "2019" / "rex.jpg"
    assert results["kitty.jpg"].destination == photos / "cat" / "kitty.jpg"  # stays
    assert read_tree(photos) == before
    # Without an earlier run's journals or label folders beside it, a folder named cat is the
    # user's own: it gets label folders of its own.
    own = photos / "trip" / "cat"
    own.mkdir(parents=True)
    assert make_plan([own], MOVE, labels=LABELS).dest == own
