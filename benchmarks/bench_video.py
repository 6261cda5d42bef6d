"""Benchmark videos: what classify makes of clips of pets and of other things, and what a clip
costs next to a photo, each `catsort classify` a whole process.

    python benchmarks/bench_video.py                          # everything
    python benchmarks/bench_video.py --part accuracy          # clips against the photos
    python benchmarks/bench_video.py --part speed --repeats 5
    python benchmarks/bench_video.py --part memory

accuracy: every photo of ../shared/data/pets-elsewhere (for MEASURING ONLY: nothing is fitted
to it) and a sample of ../shared/data/others becomes a 3-second clip that zooms in from the
whole photo towards a random point (benchmarks/videos.py). `catsort classify` (the shipped
model) runs over the clips and over the photos themselves: right, wrong, uncertain and gated
pets, and the non-pets let through. Then the same clips' frames go through the model in this
process, to compare how many frames to look at and how their pet scores should combine.

speed: `catsort classify FOLDER --csv OUT --quiet --no-cache`, interleaved, over one and over N
12-megapixel JPEGs, 10-second 1080p H.264 clips (17 Mbit/s) and 4K 10-bit HEVC clips (45 Mbit/s,
as phones film). What a file costs is what the N - 1 more add (start-up, imports and loading
the model are paid once a run), wall and CPU; its ratio to a JPEG's is paired per repeat, and
the median shown.

memory: peak RSS of runs over 16 and over 64 two-minute 1080p clips, and 4K clips.

Clips are generated once into the temporary directory (/tmp/catsort-bench) and reused: the 4K
one takes minutes (x265). Needs PyAV (catsort's own dependency) and no TensorFlow.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import corpora
import numpy as np
import videos
from measure import Run, cpu_busy, machine_facts, median, run_measured
from suites import check_output
from tables import Check, markdown_table

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_MODEL = REPO / "exported" / "catsort.json"
PARTS = ("accuracy", "speed", "memory")
#: Issue 31's targets: a clip's cost against a 12 MP JPEG's.
H264_TARGET = 3.0
HEVC_TARGET = 6.0
# Peak RSS over MEMORY_MANY clips at most MEMORY_FLAT times that over MEMORY_FEW (enough for
# every worker to have a batch: one clip alone runs on one worker, with one copy of the model).
MEMORY_FLAT = 1.10
MEMORY_FEW, MEMORY_MANY = 16, 64


def main() -> int:
    """Run the parts asked for, print their tables; 1 if a target is missed."""
    args = parse_args()
    busy = cpu_busy()
    print(
        "**Machine:** " + "; ".join(f"{k} {v}" for k, v in machine_facts().items()) + "\n\n"
        f"**Run:** started {time.strftime('%Y-%m-%d %H:%M %Z')}; CPU in use by others at "
        f"start: {'unknown' if busy is None else f'{busy:.0%}'}; model: {args.model}\n"
    )
    passed = True
    with tempfile.TemporaryDirectory(prefix="catsort-bench-video-") as scratch:
        work = Path(scratch)
        if "accuracy" in args.part:
            accuracy(args, work)
        if "speed" in args.part:
            passed &= speed(args, work)
        if "memory" in args.part:
            passed &= memory(args, work)
    return 0 if passed else 1


# --- accuracy ----------------------------------------------------------------------------------


def accuracy(args: argparse.Namespace, work: Path) -> None:
    """Pets and non-pets as clips and as photos, through catsort classify; then frame rules."""
    pets = sorted((args.pets / "cats").glob("*.jpg")) + sorted((args.pets / "dogs").glob("*.jpg"))
    others = sample_others(args.others, args.others_count)
    if not pets or not others:
        raise SystemExit(f"no photos in {args.pets} or {args.others}")
    pet_clips = videos.pan_clips(pets, "pets")
    other_clips = videos.pan_clips(others, "others")
    pet_stills = videos.stills(pets, "pets")
    other_stills = videos.stills(others, "others")
    rows = []
    for kind, folder in (
        ("pets, photos", pet_stills),
        ("pets, clips", pet_clips),
        ("non-pets, photos", other_stills),
        ("non-pets, clips", other_clips),
    ):
        out = work / "accuracy.csv"
        out.unlink(missing_ok=True)
        command = classify_command(args, folder, out)
        run = run_measured(command, cwd=REPO)
        if run.exit_code != 0:
            raise SystemExit(f"{kind}: catsort classify failed ({run.stderr_tail})")
        rows.append((kind, tally(read_rows(out), pet=kind.startswith("pets"))))
    print(f"### Clips and photos through `catsort classify`\n\n{outcome_table(rows)}\n")
    print(f"### Frames and the gate, the same clips in one process\n\n{rules_table(args)}\n")


def sample_others(folder: Path, count: int) -> list[Path]:
    """``count`` non-pet photos, an equal share from each class folder, the same every run."""
    classes = sorted(path for path in folder.iterdir() if path.is_dir())
    share = math.ceil(count / max(1, len(classes)))
    picked: list[Path] = []
    for path in classes:
        photos = sorted(path.glob("*.jpg"))
        picked += sorted(random.Random(path.name).sample(photos, min(share, len(photos))))
    return picked[:count]


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a results CSV."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.DictReader(handle))


def truth(path: str | Path) -> str:
    """A pet's true label from its folder (cats/, dogs/)."""
    return "cat" if Path(path).parent.name == "cats" else "dog"


def outcome(label: str, true: str | None) -> str:
    """right, wrong, uncertain, other or error for a pet whose label is ``true``; for a
    non-pet (``true`` None) the label itself."""
    if true is None or label in ("uncertain", "other", "error"):
        return label
    return "right" if label == true else "wrong"


def tally(rows: list[dict[str, str]], pet: bool) -> Counter:
    """Right, wrong, uncertain and gated pets, or how non-pets were labelled; frames seen."""
    counts: Counter = Counter()
    for row in rows:
        counts["files"] += 1
        counts["frames"] += int(row.get("frames") or 0)
        label = row["label"] if row["status"] == "ok" else "error"
        counts[outcome(label, truth(row["path"]) if pet else None)] += 1
    return counts


def outcome_table(rows: list[tuple[str, Counter]]) -> str:
    """The outcomes of pets and non-pets, photos against clips, as a Markdown table."""
    table = [["files", "n", "frames", "right", "wrong", "uncertain", "other (gated)", "errors"]]
    for kind, counts in rows:
        n, pets = counts["files"], kind.startswith("pets")
        # For a non-pet, cat or dog is wrong (it would be moved) and other is right.
        wrong = counts["wrong"] if pets else counts["cat"] + counts["dog"]
        table.append(
            [
                kind,
                str(n),
                f"{counts['frames'] / n:.1f}" if counts["frames"] else "",
                _share(counts["right"], n) if pets else "",
                _share(wrong, n),
                _share(counts["uncertain"], n),
                _share(counts["other"], n),
                str(counts["error"]),
            ]
        )
    return "\n".join(markdown_table(table, right=range(1, 8))) + (
        "\n\nFor non-pets, *wrong* is a label of cat or dog: the photo or clip would be moved."
    )


RULES: dict[str, tuple[int, Callable[[np.ndarray], float] | None]] = {
    # name: (frames, how the clip's pet score comes from its frames' (None: the shipped rule))
    "1 frame (the middle)": (1, None),
    "3 frames, half must pass (shipped)": (3, None),
    "3 frames, mean pet score": (3, lambda s: float(np.mean(s))),
    "3 frames, one must pass (max)": (3, lambda s: float(np.max(s))),
    "3 frames, all must pass (min)": (3, lambda s: float(np.min(s))),
    "5 frames, half must pass": (5, None),
}


def rules_table(args: argparse.Namespace) -> str:
    """Pets and non-pets under each way of combining frames, with the shipped model."""
    from catsort import load_model
    from catsort.decision import combine_frames, decide
    from catsort.video import load_frames

    model = load_model(args.model, threads=1)
    size = model.metadata.input_size
    clips = {
        "pets": videos.pan_clips(
            sorted((args.pets / "cats").glob("*.jpg")) + sorted((args.pets / "dogs").glob("*.jpg")),
            "pets",
        ),
        "non-pets": videos.pan_clips(sample_others(args.others, args.others_count), "others"),
    }
    counts: dict[str, dict[str, Counter]] = {
        rule: {kind: Counter() for kind in clips} for rule in RULES
    }
    for kind, folder in clips.items():
        for clip in sorted(folder.rglob("*.mp4")):
            true = truth(clip) if kind == "pets" else None
            for frames in sorted({n for n, _ in RULES.values()}):
                outputs = model.predict(np.stack(load_frames(clip, size, frames)))
                for rule, (n, pet_rule) in RULES.items():
                    if n != frames:
                        continue
                    logits, pet = combine_frames(outputs.logits, outputs.pet_score)
                    if pet_rule is not None and outputs.pet_score is not None:
                        logits, pet = outputs.logits.mean(axis=0), pet_rule(outputs.pet_score)
                    label = decide(logits, pet, model.metadata).label
                    counts[rule][kind][outcome(label, true)] += 1
                    counts[rule][kind]["files"] += 1
    table = [
        [
            "rule",
            "pets right",
            "pets wrong",
            "pets uncertain",
            "pets gated",
            "non-pets sorted as a pet",
            "non-pets let through the gate",
        ]
    ]
    for rule in RULES:
        pet, other = counts[rule]["pets"], counts[rule]["non-pets"]
        table.append(
            [
                rule,
                _share(pet["right"], pet["files"]),
                _share(pet["wrong"], pet["files"]),
                _share(pet["uncertain"], pet["files"]),
                _share(pet["other"], pet["files"]),
                _share(other["cat"] + other["dog"], other["files"]),
                _share(other["cat"] + other["dog"] + other["uncertain"], other["files"]),
            ]
        )
    return "\n".join(markdown_table(table, right=range(1, 7)))


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f} %)" if total else "-"


# --- speed -------------------------------------------------------------------------------------


def speed(args: argparse.Namespace, work: Path) -> bool:
    """Whole classify processes over one and over N JPEGs or clips; a clip's cost (what N - 1
    more files add) against a JPEG's."""
    sources, tag = corpora.source_photos(args.validation, REPO / "samples")
    source = sources[0]
    kinds = {
        "12 MP JPEG": corpora.big_photos(args.count, sources, tag),
        "10-s 1080p H.264": videos.phone_clips(videos.H264_1080P, args.count, source),
        "4K 10-bit HEVC": videos.phone_clips(videos.HEVC_4K, args.count, source),
    }
    folders: dict[tuple[str, int], Path] = {}
    for name, folder in kinds.items():
        files = sorted(folder.iterdir())
        for path in files:
            path.read_bytes()  # into the page cache
        one = work / f"one {name}"
        one.mkdir()
        videos.link(files[0], one / files[0].name)
        folders[(name, 1)], folders[(name, len(files))] = one, folder
    runs: dict[tuple[str, int], list[Run]] = {key: [] for key in folders}
    frames: dict[str, float] = {}
    problems = []
    keys = list(folders)
    for repeat in range(args.repeats):
        for key in keys[repeat % len(keys) :] + keys[: repeat % len(keys)]:
            name, files = key
            out = work / "speed.csv"
            out.unlink(missing_ok=True)
            run = run_measured(classify_command(args, folders[key], out), cwd=REPO)
            problem = check_output(run, out, files, baseline=False)
            if not problem:
                frames[name] = median([float(r.get("frames") or 0) for r in read_rows(out)])
            print(
                f"  #{repeat + 1} {name} x{files}: {run.seconds:.2f} s "
                f"(CPU {run.cpu_seconds:.2f} s){'  ' + problem if problem else ''}"
            )
            if problem:
                problems.append(f"#{repeat + 1} {name} x{files}: {problem}")
            runs[key].append(run)

    def cost(name: str, cpu: bool = False) -> list[float]:
        """What each file after the first costs, per repeat."""

        def of(run: Run) -> float:
            return run.cpu_seconds if cpu else run.seconds

        many = runs[(name, args.count)]
        return [(of(m) - of(o)) / (args.count - 1) for m, o in zip(many, runs[(name, 1)])]

    photo, photo_cpu = cost("12 MP JPEG"), cost("12 MP JPEG", cpu=True)
    table = [
        [
            "files",
            "frames",
            "one file",
            f"{args.count} files",
            "a file more",
            "vs JPEG",
            "its CPU",
            "CPU vs JPEG",
            "peak RSS",
        ]
    ]
    ratios = {}
    for name in kinds:
        many, one = runs[(name, args.count)], runs[(name, 1)]
        each, each_cpu = cost(name), cost(name, cpu=True)
        ratio = median([c / p for c, p in zip(each, photo)])
        cpu_ratio = median([c / p for c, p in zip(each_cpu, photo_cpu)])
        ratios[name] = (ratio, cpu_ratio)
        table.append(
            [
                name,
                f"{frames[name]:g}" if frames.get(name) else "",
                f"{median([r.seconds for r in one]):.2f} s",
                f"{median([r.seconds for r in many]):.2f} s",
                f"{1000 * median(each):.0f} ms",
                f"{ratio:.2f}x",
                f"{1000 * median(each_cpu):.0f} ms",
                f"{cpu_ratio:.2f}x",
                f"{max(r.peak_rss_mb for r in many):.0f} MB",
            ]
        )
    print(f"### A clip against a photo (whole processes, {args.repeats} repeats)\n")
    print("\n".join(markdown_table(table, right=range(1, 9))))
    print(
        "\nOne file: launch to exit with one file (start-up, imports, the model, that file). "
        f"A file more: (time with {args.count} files - time with one) / {args.count - 1}, "
        "paired per repeat, median; vs JPEG: its ratio to a JPEG's in the same repeat, median."
    )
    checks = [
        _ratio_check("10-s 1080p H.264", H264_TARGET, ratios),
        _ratio_check("4K 10-bit HEVC", HEVC_TARGET, ratios),
    ]
    return _verdict(checks, problems)


def _verdict(checks: list[Check], problems: list[str]) -> bool:
    """Print the targets' table and the problems; whether every target passed, with none."""
    print(
        "\n"
        + "\n".join(
            markdown_table(
                [["Target", "Measured", "Result"]]
                + [[c.target, c.measured, c.verdict] for c in checks],
                (),
            )
        )
    )
    for problem in problems:
        print(f"- {problem}")
    print()
    return not problems and all(check.passed for check in checks)


def _ratio_check(name: str, target: float, ratios: dict[str, tuple[float, float]]) -> Check:
    ratio, cpu = ratios.get(name, (math.nan, math.nan))
    return Check(
        f"{name} <= {target:g}x a 12 MP JPEG",
        f"{ratio:.2f}x (CPU {cpu:.2f}x)",
        None if math.isnan(ratio) else ratio <= target,
    )


# --- memory ------------------------------------------------------------------------------------


def memory(args: argparse.Namespace, work: Path) -> bool:
    """Peak RSS of whole runs over a few and over many long 1080p clips, and 4K clips."""
    sources, _ = corpora.source_photos(args.validation, REPO / "samples")
    firsts = {
        "two-minute 1080p H.264": videos.phone_clips(videos.LONG_1080P, 1, sources[1]),
        "4K 10-bit HEVC": videos.phone_clips(videos.HEVC_4K, args.count, sources[0]),
    }
    folders: dict[tuple[str, int], Path] = {}
    for name, folder in firsts.items():
        first = sorted(folder.iterdir())[0]
        for count in (MEMORY_FEW, MEMORY_MANY):
            target = work / f"memory {name} x{count}"
            target.mkdir()
            for index in range(count):
                videos.link(first, target / f"VID_{index:04d}{first.suffix}")
            folders[(name, count)] = target
    table = [["clips", "runs", "median time", "peak RSS"]]
    peaks = {}
    problems = []
    for (name, count), folder in folders.items():
        rows = []
        for _ in range(args.repeats):
            out = work / "memory.csv"
            out.unlink(missing_ok=True)
            run = run_measured(classify_command(args, folder, out), cwd=REPO)
            problem = check_output(run, out, count, baseline=False)
            if problem:
                problems.append(f"{name} x{count}: {problem}")
            rows.append(run)
        peaks[(name, count)] = max(r.peak_rss_mb for r in rows)
        table.append(
            [
                f"{count} x {name}",
                str(len(rows)),
                f"{median([r.seconds for r in rows]):.2f} s",
                f"{peaks[(name, count)]:.0f} MB",
            ]
        )
    print("### Memory over folders of clips (whole processes)\n")
    print("\n".join(markdown_table(table, right=range(1, 4))))
    checks = []
    for name in firsts:
        one, many = peaks[(name, MEMORY_FEW)], peaks[(name, MEMORY_MANY)]
        checks.append(
            Check(
                f"peak RSS flat: {MEMORY_MANY} {name} clips vs {MEMORY_FEW} <= {MEMORY_FLAT:.2f}x",
                f"{one:.0f} -> {many:.0f} MB, {many / one:.2f}x",
                many / one <= MEMORY_FLAT,
            )
        )
    return _verdict(checks, problems)


# --- common ------------------------------------------------------------------------------------


def classify_command(args: argparse.Namespace, folder: Path, out: Path) -> list[str]:
    """`catsort classify` over ``folder`` into ``out``, as a user runs it, without the cache."""
    command = [sys.executable, "-m", "catsort", "classify", str(folder), "--csv", str(out)]
    command += ["--quiet", "--no-cache", "--model", str(args.model)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    return command


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", default=",".join(PARTS), help="accuracy,speed,memory")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--count", type=int, default=16, help="files per folder for speed")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="catsort model")
    parser.add_argument("--threads", type=int, help="passed on to catsort classify")
    parser.add_argument("--pets", type=Path, default=SHARED / "pets-elsewhere")
    parser.add_argument("--others", type=Path, default=SHARED / "others")
    parser.add_argument("--others-count", type=int, default=600, help="non-pet photos")
    parser.add_argument(
        "--validation", type=Path, default=SHARED / "cats_and_dogs_filtered" / "validation"
    )
    args = parser.parse_args(argv)
    args.part = [part.strip() for part in args.part.split(",") if part.strip()]
    unknown = set(args.part) - set(PARTS)
    if unknown or args.repeats < 1 or args.count < 2:
        parser.error(f"--part takes {', '.join(PARTS)}; --repeats at least 1, --count 2")
    if not args.validation.is_dir():
        args.validation = None
    return args


if __name__ == "__main__":
    sys.exit(main())
