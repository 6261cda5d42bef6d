"""Companion files: which files go with a photo, and a library sorted with its groups together."""

from __future__ import annotations

import csv
import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import BLUE, GREY, RED
from typer.testing import CliRunner

import catsort
from catsort import files
from catsort.cli import app
from catsort.model import load_model
from catsort.plan import make_plan
from catsort.report.read import read_results
from catsort.run import run_classify
from catsort.sorting import place as sort
from catsort.sorting.companions import CompanionFinder, folder_groups, without_companions
from catsort.sorting.journal import undo
from catsort.sorting.place import COPY, MOVE
from catsort.types import Callbacks, RunSettings

LABELS = ("cat", "dog")


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return load_model(tiny_model, threads=1)


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "photo", "companions"),
    [
        # XMP sidecars by stem and by whole name, any case
        (["IMG.JPG", "IMG.xmp", "img.jpg.XMP"], "IMG.JPG", ("IMG.xmp", "img.jpg.XMP")),
        # a phone photo's Live Photo video and its edits
        (["IMG_5000.HEIC", "IMG_5000.MOV", "IMG_5000.AAE"], "IMG_5000.HEIC", None),
        (["PXL_1.jpg", "PXL_1.mp4"], "PXL_1.jpg", ("PXL_1.mp4",)),
        # Google Takeout's metadata, its older, whole-name and shortened forms
        (
            [
                "a.jpg",
                "a.json",
                "a.jpg.json",
                "a.jpg.supplemental-metadata.json",
                "a.jpg.supplemental-met.json",
            ],
            "a.jpg",
            None,
        ),
        # DxO, RawTherapee, a camera's thumbnail
        (["P1.JPG", "P1.JPG.dop", "P1.pp3", "P1.THM"], "P1.JPG", None),
        # RAW beside its JPEG, with the sidecars of either
        (
            [
                "_MG_7000.JPG",
                "_MG_7000.CR2",
                "_MG_7000.xmp",
                "_MG_7000.JPG.xmp",
                "_MG_7000.CR2.xmp",
            ],
            "_MG_7000.JPG",
            None,
        ),
        # a video beside a PNG is no Live Photo; unrelated files are nobody's
        (["s.png", "s.mov", "s.txt", "s2.xmp", "notes.txt"], "s.png", ()),
    ],
)
def test_companions_are_named_after_the_photo(names, photo, companions):
    groups = folder_groups(names)
    expected = tuple(sorted(n for n in names if n != photo)) if companions is None else companions
    assert groups[photo] == tuple(sorted(expected))


def test_a_raw_beside_its_jpeg_is_no_photo_of_its_own_but_alone_it_is():
    groups = folder_groups(["IMG.JPG", "IMG.CR2", "LONE.NEF", "LONE.xmp"])
    assert set(groups) == {"IMG.JPG", "LONE.NEF"}
    assert groups["IMG.JPG"] == ("IMG.CR2",)
    assert groups["LONE.NEF"] == ("LONE.xmp",)


def test_photos_sharing_a_stem_keep_their_whole_name_companions_and_leave_the_rest():
    names = ["x.JPG", "x.PNG", "x.xmp", "x.MOV", "x.JPG.xmp", "x.PNG.json"]
    groups = folder_groups(names)
    assert groups == {"x.JPG": ("x.JPG.xmp",), "x.PNG": ("x.PNG.json",)}
    # with videos read, x.MOV goes with neither photo: it is a video of its own
    assert folder_groups(names, videos=True) == {**groups, "x.MOV": ()}
    # beside a JPEG and a HEIC, a RAW file is a photo of its own
    assert set(folder_groups(["y.JPG", "y.HEIC", "y.CR2"])) == {"y.JPG", "y.HEIC", "y.CR2"}


@pytest.mark.parametrize(
    ("names", "groups"),
    [
        # a Live Photo: the video goes with its still, videos read or not
        (["IMG.HEIC", "IMG.MOV", "IMG.MOV.xmp"], {"IMG.HEIC": ("IMG.MOV", "IMG.MOV.xmp")}),
        # a video of its own, with its sidecars by whole name and by stem, and a camera's .THM
        (
            ["VID.mp4", "VID.mp4.xmp", "VID.THM", "CLIP.MOV", "CLIP.xmp", "CLIP.mov.json"],
            {
                "CLIP.MOV": ("CLIP.mov.json", "CLIP.xmp"),
                "VID.mp4": ("VID.THM", "VID.mp4.xmp"),
            },
        ),
        # beside two stills sharing its stem, or beside a PNG or a RAW: a video of its own
        (["x.JPG", "x.HEIC", "x.MOV"], {"x.JPG": (), "x.HEIC": (), "x.MOV": ()}),
        (["s.png", "s.mov"], {"s.png": (), "s.mov": ()}),
        (["r.CR2", "r.MOV"], {"r.CR2": (), "r.MOV": ()}),
        # no format is a Live Photo's but .mov and .mp4
        (["IMG.JPG", "IMG.mkv"], {"IMG.JPG": (), "IMG.mkv": ()}),
        # a stem sidecar beside a photo and a video of their own is neither's
        (["p.png", "p.mp4", "p.xmp"], {"p.png": (), "p.mp4": ()}),
        # two videos sharing a stem keep their whole-name sidecars and leave the rest
        (["v.mp4", "v.mov", "v.xmp", "v.mov.xmp"], {"v.mp4": (), "v.mov": ("v.mov.xmp",)}),
    ],
)
def test_with_videos_read_a_video_is_a_live_photos_or_one_of_its_own(names, groups):
    assert folder_groups(names, videos=True) == groups


def test_a_video_of_its_own_is_an_input_and_a_live_photos_is_not(tmp_path, make_files):
    folder = make_files(tmp_path, {"IMG.HEIC": b"h", "IMG.MOV": b"v", "VID.mp4": b"v"})
    walked = [folder / "IMG.HEIC", folder / "IMG.MOV", folder / "VID.mp4"]
    finder = CompanionFinder(videos=True)
    assert list(without_companions(walked, finder, [folder])) == [walked[0], walked[2]]
    assert finder.of(folder / "VID.mp4") == ()
    named = list(without_companions(walked, finder, [folder / "IMG.MOV"]))
    assert named == walked, "a video named on the command line is classified"


def test_a_sidecar_beside_a_jpeg_and_its_raw_belongs_to_the_pair():
    assert folder_groups(["IMG.JPG", "IMG.CR2", "IMG.xmp"])["IMG.JPG"] == ("IMG.CR2", "IMG.xmp")


def test_paired_raw_files_are_left_out_of_the_inputs_unless_named(tmp_path, make_files):
    folder = make_files(tmp_path, {"IMG.JPG": b"j", "IMG.CR2": b"r", "LONE.CR2": b"r"})
    walked = [folder / "IMG.CR2", folder / "IMG.JPG", folder / "LONE.CR2"]
    kept = list(without_companions(walked, CompanionFinder(), [folder]))
    assert kept == [folder / "IMG.JPG", folder / "LONE.CR2"]
    named = list(without_companions(walked, CompanionFinder(), [folder / "IMG.CR2"]))
    assert named == walked


def test_links_and_hidden_files_are_nobodys_companions(tmp_path, make_files):
    folder = make_files(tmp_path, {"IMG.JPG": b"j", "._IMG.xmp": b"apple double", "t.xmp": b"x"})
    (folder / "IMG.xmp").symlink_to(folder / "t.xmp")
    assert CompanionFinder().of(folder / "IMG.JPG") == ()


# --- a library --------------------------------------------------------------------------------


def make_library(root: Path, make_photo, make_files) -> Path:
    """A photographer's library: year/month folders whose cameras all count from IMG_0001,
    RAW+JPEG pairs with sidecars, phone photos with their videos and edits, a Takeout export,
    two photos sharing a stem, an uncertain photo and a note."""
    make_photo(root / "2019" / "07" / "IMG_0001.JPG", RED)
    make_photo(root / "2019" / "08" / "IMG_0001.JPG", BLUE, size=(30, 20))
    make_photo(root / "2020" / "01" / "IMG_0001.JPG", RED, size=(32, 20))
    make_photo(root / "2020" / "01" / "IMG_5000.JPG", BLUE)
    make_photo(root / "Takeout" / "PXL_0001.jpg", RED)
    make_photo(root / "misc" / "x.JPG", RED)
    make_photo(root / "misc" / "x.png", BLUE)
    make_photo(root / "misc" / "blur.jpg", GREY)
    make_files(
        root,
        {
            "2019/07/IMG_0001.CR2": b"raw of the July cat",
            "2019/07/IMG_0001.xmp": b"<x:xmpmeta>July</x:xmpmeta>",
            "2019/07/IMG_0001.JPG.xmp": b"<x:xmpmeta>July jpeg</x:xmpmeta>",
            "2019/08/IMG_0001.NEF": b"raw of the August dog",
            "2019/08/IMG_0001.pp3": b"[RawTherapee]",
            "2019/08/IMG_0001.dop": b"DxO",
            "2020/01/IMG_0001.THM": b"thumbnail",
            "2020/01/IMG_5000.MOV": b"live photo video",
            "2020/01/IMG_5000.AAE": b"<plist>edits</plist>",
            "Takeout/PXL_0001.jpg.supplemental-metadata.json": b'{"title": "PXL_0001.jpg"}',
            "misc/x.xmp": b"whose?",
            "misc/x.JPG.xmp": b"the cat's",
            "misc/blur.jpg.xmp": b"uncertain's sidecar",
            "misc/notes.txt": b"not a photo",
        },
    )
    return root


GROUPS = {  # photo -> companions, as they lie in the library
    "2019/07/IMG_0001.JPG": ["IMG_0001.CR2", "IMG_0001.JPG.xmp", "IMG_0001.xmp"],
    "2019/08/IMG_0001.JPG": ["IMG_0001.NEF", "IMG_0001.dop", "IMG_0001.pp3"],
    "2020/01/IMG_0001.JPG": ["IMG_0001.THM"],
    "2020/01/IMG_5000.JPG": ["IMG_5000.AAE", "IMG_5000.MOV"],
    "Takeout/PXL_0001.jpg": ["PXL_0001.jpg.supplemental-metadata.json"],
    "misc/x.JPG": ["x.JPG.xmp"],
    "misc/x.png": [],
}
LABEL_OF = {"2019/08/IMG_0001.JPG": "dog", "2020/01/IMG_5000.JPG": "dog", "misc/x.png": "dog"}
STAYING = ["misc/blur.jpg", "misc/blur.jpg.xmp", "misc/notes.txt", "misc/x.xmp"]


def sorted_tree(before: dict[str, bytes]) -> dict[str, bytes]:
    """Where every file of the library should be after --move: groups under their label, in
    their own folder; the uncertain photo, the ambiguous sidecar and the note where they were."""
    expected = {name: before[name] for name in STAYING}
    for photo, companions in GROUPS.items():
        folder = photo.rsplit("/", 1)[0]
        label = LABEL_OF.get(photo, "cat")
        for name in [photo.rsplit("/", 1)[1], *companions]:
            expected[f"{label}/{folder}/{name}"] = before[f"{folder}/{name}"]
    return expected


def sort_library(root: Path, classifier, action: str = MOVE, **plan_options):
    seen: list = []
    plan = make_plan([root], action, labels=LABELS, **plan_options)
    summary = run_classify([root], classifier, plan, RunSettings(), Callbacks(seen.append))
    return summary, {r.path.relative_to(root).as_posix(): r for r in seen}


def test_a_library_is_sorted_with_every_group_together_in_its_own_folder_and_undone(
    tmp_path, make_photo, make_files, read_tree, classifier
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root)
    summary, results = sort_library(root, classifier)
    assert read_tree(root) == sorted_tree(before)
    assert summary.exit_code == 0
    assert (summary.placed, summary.companions) == (7, 11)
    went = results["2019/07/IMG_0001.JPG"]
    assert went.destination == root / "cat" / "2019" / "07" / "IMG_0001.JPG"
    assert [(c.path.name, c.destination) for c in went.companions] == [
        (name, root / "cat" / "2019" / "07" / name) for name in GROUPS["2019/07/IMG_0001.JPG"]
    ]
    assert "2019/07/IMG_0001.CR2" not in results  # classified through its JPEG only
    assert results["misc/blur.jpg"].companions == ()
    assert undo(summary.journal).skipped == []
    assert read_tree(root) == before
    assert sorted(os.listdir(root)) == [".catsort", "2019", "2020", "Takeout", "misc"]


def test_flat_puts_the_groups_straight_into_the_label_folders_renamed_together(
    tmp_path, make_photo, make_files, read_tree, classifier
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root)
    sort_library(root, classifier, flat=True)
    cats = sorted(n for n in read_tree(root / "cat") if n.startswith("IMG_0001"))
    assert cats == [
        "IMG_0001 (1).JPG",
        "IMG_0001 (1).THM",
        "IMG_0001.CR2",
        "IMG_0001.JPG",
        "IMG_0001.JPG.xmp",
        "IMG_0001.xmp",
    ]
    assert (root / "cat" / "IMG_0001 (1).THM").read_bytes() == before["2020/01/IMG_0001.THM"]


def test_a_collision_of_one_member_gives_the_whole_group_a_new_stem(
    tmp_path, make_photo, make_files, read_tree, classifier
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    # Only the sidecar's name is taken where the July group goes.
    make_files(root, {"cat/2019/07/IMG_0001.xmp": b"someone else's"})
    before = read_tree(root)
    _, results = sort_library(root, classifier)
    folder = root / "cat" / "2019" / "07"
    assert sorted(os.listdir(folder)) == [
        "IMG_0001 (1).CR2",
        "IMG_0001 (1).JPG",
        "IMG_0001 (1).JPG.xmp",
        "IMG_0001 (1).xmp",
        "IMG_0001.xmp",
    ]
    assert (folder / "IMG_0001.xmp").read_bytes() == b"someone else's"
    assert (folder / "IMG_0001 (1).JPG.xmp").read_bytes() == before["2019/07/IMG_0001.JPG.xmp"]
    assert results["2019/07/IMG_0001.JPG"].destination == folder / "IMG_0001 (1).JPG"


def test_a_companion_that_vanished_keeps_its_group_in_place_with_one_error(
    tmp_path, make_photo, make_files, read_tree, classifier, monkeypatch
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root)
    real = sort.move_file

    def vanish_first(source, target):
        if Path(source).name == "IMG_0001.xmp":
            os.unlink(source)  # gone between the listing and its move
        real(source, target)

    monkeypatch.setattr(sort, "move_file", vanish_first)
    summary, results = sort_library(root, classifier)
    july = "2019/07/IMG_0001.JPG"
    error = results[july].error
    assert "companion IMG_0001.xmp could not be moved" in error and "stayed in place" in error
    assert results[july].destination is None
    after = read_tree(root)
    for name in ["IMG_0001.JPG", "IMG_0001.CR2", "IMG_0001.JPG.xmp"]:
        assert after[f"2019/07/{name}"] == before[f"2019/07/{name}"]
    assert not (root / "cat" / "2019" / "07").exists()
    assert summary.errors == 1 and summary.exit_code == 1
    assert after["dog/2019/08/IMG_0001.NEF"] == before["2019/08/IMG_0001.NEF"]  # the run went on


def test_an_unreadable_companion_keeps_its_group_in_place_across_file_systems(
    tmp_path, make_photo, make_files, read_tree, classifier, monkeypatch
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    raw = root / "2019" / "07" / "IMG_0001.CR2"
    raw.chmod(0)
    try:
        if os.access(raw, os.R_OK):
            pytest.skip("running as root: the file stays readable")
        before = read_tree(root / "2019" / "08")

        real = files.rename_noreplace

        def across(source, target):  # every move copies, then removes: the RAW cannot be read
            if Path(source).parent != Path(target).parent:
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            real(source, target)

        monkeypatch.setattr(files, "rename_noreplace", across)
        _, results = sort_library(root, classifier)
    finally:
        raw.chmod(0o644)
    error = results["2019/07/IMG_0001.JPG"].error
    assert "companion IMG_0001.CR2 could not be moved" in error
    assert sorted(os.listdir(root / "2019" / "07")) == GROUPS["2019/07/IMG_0001.JPG"][:1] + [
        "IMG_0001.JPG",
        *GROUPS["2019/07/IMG_0001.JPG"][1:],
    ]
    assert read_tree(root / "dog" / "2019" / "08") == before


def test_copy_copies_the_groups_and_a_second_copy_finds_them(
    tmp_path, make_photo, make_files, read_tree, classifier
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root)
    dest = tmp_path / "Sorted"
    summary, _ = sort_library(root, classifier, COPY, dest=dest)
    assert summary.companions == 11
    copied = read_tree(dest)
    assert copied == {k: v for k, v in sorted_tree(before).items() if k not in STAYING}
    assert {k: v for k, v in read_tree(root).items()} == before
    again, results = sort_library(root, classifier, COPY, dest=dest)
    assert (again.placed, again.earlier, again.journal) == (0, 7, None)
    assert read_tree(dest) == copied
    went = results["2019/07/IMG_0001.JPG"].companions
    assert [c.destination for c in went] == [
        dest / "cat" / "2019" / "07" / name for name in GROUPS["2019/07/IMG_0001.JPG"]
    ]
    # A sidecar edited since (a rating, a keyword): no new photo, so nothing is copied again.
    (root / "2019" / "07" / "IMG_0001.xmp").write_bytes(b"<x:xmpmeta>rated 5</x:xmpmeta>")
    third, _ = sort_library(root, classifier, COPY, dest=dest)
    assert (third.placed, third.earlier) == (0, 7)
    assert read_tree(dest) == copied
    # A RAW changed since is a new photo: the group is copied again, whole, under a new stem.
    (root / "2019" / "07" / "IMG_0001.CR2").write_bytes(b"re-developed")
    fourth, _ = sort_library(root, classifier, COPY, dest=dest)
    assert (fourth.placed, fourth.companions) == (1, 3)
    assert sorted(os.listdir(dest / "cat" / "2019" / "07"))[:4] == [
        "IMG_0001 (1).CR2",
        "IMG_0001 (1).JPG",
        "IMG_0001 (1).JPG.xmp",
        "IMG_0001 (1).xmp",
    ]


# --- a sorted folder checked again ------------------------------------------------------------


def test_a_sorted_folder_checked_again_stays_put_and_strays_move_to_their_sibling(
    tmp_path, make_photo, make_files, read_tree, classifier
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    sort_library(root, classifier)
    # A dog filed with the cats by hand, with its sidecar, in a year folder.
    make_photo(root / "cat" / "2021" / "rex.jpg", BLUE)
    make_files(root, {"cat/2021/rex.jpg.xmp": b"rex"})
    after_first = read_tree(root)
    cats = root / "cat"
    plan = make_plan([cats], MOVE, labels=LABELS)
    assert plan.dest == root  # not Pictures/cat/cat
    seen: list = []
    summary = run_classify([cats], classifier, plan, RunSettings(), Callbacks(seen.append))
    assert (summary.placed, summary.in_place, summary.exit_code) == (1, 4, 0)
    moved = {k: v for k, v in after_first.items() if not k.startswith("cat/2021/")}
    moved["dog/2021/rex.jpg"] = after_first["cat/2021/rex.jpg"]
    moved["dog/2021/rex.jpg.xmp"] = after_first["cat/2021/rex.jpg.xmp"]
    assert read_tree(root) == moved
    stayed = [r for r in seen if r.path.name == "IMG_0001.JPG"]
    assert len(stayed) == 2 and all(r.destination == r.path for r in stayed)
    assert not (cats / "cat").exists()


def test_a_companion_the_system_refuses_to_move_keeps_its_group_in_place(
    tmp_path, make_photo, make_files, read_tree, classifier, monkeypatch
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root / "2020")
    real = files.rename_noreplace

    def refuse_the_edits(source, target):
        if Path(source).name == "IMG_5000.AAE":
            raise PermissionError(errno.EACCES, "Permission denied")
        real(source, target)

    monkeypatch.setattr(files, "rename_noreplace", refuse_the_edits)
    _, results = sort_library(root, classifier)
    error = results["2020/01/IMG_5000.JPG"].error
    assert error.startswith("companion IMG_5000.AAE could not be moved (")
    assert "permission denied" in error
    assert sorted(os.listdir(root / "2020" / "01")) == [
        "IMG_5000.AAE",
        "IMG_5000.JPG",
        "IMG_5000.MOV",
    ]
    assert {k: v for k, v in read_tree(root / "2020").items() if "5000" in k} == {
        k: v for k, v in before.items() if "5000" in k
    }


# --- on the command line ----------------------------------------------------------------------

runner = CliRunner()


def test_the_dry_run_plan_shows_each_companion_under_its_photo(
    tmp_path, make_photo, make_files, read_tree, tiny_model
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root)
    args = ["classify", str(root), "--move", "--dry-run", "--model", str(tiny_model)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert read_tree(root) == before and not (root / ".catsort").exists()
    plan: dict[str, list[tuple[str, str]]] = {}
    photo = ""
    for line in result.stdout.splitlines():
        label, source, destination = line.split("\t")
        relative = Path(source).relative_to(root).as_posix()
        if label:
            photo = relative
            assert Path(destination) == root / label / relative
            plan[photo] = []
        else:  # a companion, on the lines after its photo
            assert Path(destination).parent == (root / plan_label(photo) / photo).parent
            plan[photo].append((Path(source).name, Path(destination).name))
    assert plan == {p: [(c, c) for c in companions] for p, companions in GROUPS.items()}
    assert "companions would be moved" in result.stderr


def plan_label(photo: str) -> str:
    return LABEL_OF.get(photo, "cat")


def test_the_csv_names_the_companions_that_went_with_each_photo(
    tmp_path, make_photo, make_files, tiny_model
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    results = tmp_path / "results.csv"
    args = ["classify", str(root), "--move", "--csv", str(results), "--model", str(tiny_model)]
    assert runner.invoke(app, args).exit_code == 0
    rows = {Path(row.path).relative_to(root).as_posix(): row for row in read_results(results).rows}
    assert {photo: list(row.companions) for photo, row in rows.items() if row.companions} == {
        photo: companions for photo, companions in GROUPS.items() if companions
    }
    with open(results, newline="") as stream:
        raw = {Path(r["path"]).name: r["companions"] for r in csv.DictReader(stream)}
    assert raw["PXL_0001.jpg"] == "PXL_0001.jpg.supplemental-metadata.json"
    assert raw["x.png"] == "" and raw["blur.jpg"] == ""


def test_a_results_csv_from_before_companions_is_still_read(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text(
        "path,label,confidence,p_cat,p_dog,pet_score,status,error,destination\n"
        "a.jpg,cat,0.99,0.99,0.01,0.8,ok,,cat/a.jpg\n"
    )
    (row,) = read_results(old).rows
    assert row.label == "cat" and row.companions == ()


MID_GROUP = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from catsort.sorting import place

    real = place.move_file

    def move_file(source, target):
        real(source, target)
        print(Path(source).relative_to(sys.argv[1]), flush=True)
        if Path(source).relative_to(sys.argv[1]).as_posix() == sys.argv[2]:
            time.sleep(60)  # killed here: the photo moved, its companions not yet

    place.move_file = move_file
    from catsort.cli import app

    app(["classify", sys.argv[1], "--move", "--quiet", "--threads", "1", *sys.argv[3:]])
""")


def test_a_run_killed_mid_group_is_finished_by_the_next_and_undone(
    tmp_path, make_photo, make_files, read_tree, tiny_model
):
    root = make_library(tmp_path / "Pictures", make_photo, make_files)
    before = read_tree(root)
    env = dict(os.environ, PYTHONPATH=str(Path(catsort.__file__).parent.parent))
    july = "2019/07/IMG_0001.JPG"
    command = [sys.executable, "-c", MID_GROUP, str(root), july, "--model", str(tiny_model)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == july:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    split = read_tree(root)
    assert split[f"cat/{july}"] == before[july]  # the group split by the kill
    assert split["2019/07/IMG_0001.CR2"] == before["2019/07/IMG_0001.CR2"]
    for name, data in before.items():  # every file in its old or its new place, once
        places = [k for k, v in split.items() if v == data and Path(k).name == name.split("/")[-1]]
        assert len(places) == 1, (name, places)

    again = runner.invoke(app, ["classify", str(root), "--move", "--model", str(tiny_model)])
    assert again.exit_code == 0, again.output
    assert "finished the interrupted move of its group" in again.stderr
    assert read_tree(root) == sorted_tree(before)

    for journal in sorted((root / ".catsort").glob("journal-*.jsonl"), reverse=True):
        assert undo(journal).skipped == []
    assert read_tree(root) == before
