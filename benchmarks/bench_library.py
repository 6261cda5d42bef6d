"""What a model's second looks cost: `catsort classify` with two models, on pets and on a library.

    python benchmarks/bench_library.py --model NEW --against exported/catsort.json

Issue 32: a model with regions looks again at a part of the photos its first pass leaves to
it, and most of those are photos with no pet. Both models classify, interleaved, each as a
whole process (as bench_classify.py measures), with --no-cache:

- a: the validation photos (1,000 pets filling the frame): the second look must cost nothing;
- library: 100 of those pets and 900 photos with no pet, 1600x1200 JPEGs made once from the
  measuring half of ../shared/data/others (a third scaled-up photos, a third streets, a third
  generated gardens, rooms and beaches; catsort/training/composites.py): at most 1.3 times
  the time of the model it replaces.

Prints the median wall and CPU time of each and their ratios.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import corpora
from measure import cpu_busy, median
from suites import Program, measure

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
TARGETS = {"a": 1.0, "library": 1.3}
VERSION = 1


def library(validation: Path, others: Path, pets: int = 100, non_pets: int = 900) -> Path:
    """The mixed library: ``pets`` validation photos and ``non_pets`` scenes (made once)."""
    sys.path.insert(0, str(REPO))
    from catsort.training import composites

    def build(folder: Path) -> None:
        print(f"Making {non_pets} photos with no pet in {folder} (once; cached) ...")
        cats = corpora.image_files(validation / "cats")[: pets // 2]
        dogs = corpora.image_files(validation / "dogs")[: pets - pets // 2]
        for path in cats + dogs:
            shutil.copy2(path, folder / path.name)
        import numpy as np

        made = composites.Scenes(
            composites.others_half(others, "measuring"), np.random.default_rng(11)
        )
        for index in range(non_pets):
            kind = composites.SCENES[index % len(composites.SCENES)]
            made.make(kind).save(folder / f"{kind}-{index:04d}.jpg", quality=90)

    return corpora._cached(f"library-{pets}-{non_pets}-v{VERSION}", build)


def main() -> int:
    """Time both models on both corpora; 1 if a ratio misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the model with regions")
    parser.add_argument(
        "--against", default=str(REPO / "exported" / "catsort.json"), help="the model of today"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", default="a,library")
    args = parser.parse_args()
    validation = SHARED / "cats_and_dogs_filtered" / "validation"
    folders = {"a": validation, "library": library(validation, SHARED / "others")}
    catsort = [sys.executable, "-m", "catsort", "classify"]
    programs = [
        Program("today", catsort, ["--model", args.against, "--no-cache"]),
        Program("regions", catsort, ["--model", args.model, "--no-cache"]),
    ]
    busy = cpu_busy()
    print(f"CPU in use by others at start: {'unknown' if busy is None else f'{busy:.0%}'}")
    failed = False
    work = corpora.cache_root() / "library-runs"
    work.mkdir(parents=True, exist_ok=True)
    for key in [c.strip() for c in args.corpus.split(",") if c.strip()]:
        folder = folders[key]
        images = len(corpora.image_files(folder))
        times: dict[str, list[float]] = {p.name: [] for p in programs}
        cpus: dict[str, list[float]] = {p.name: [] for p in programs}
        for repeat in range(args.repeats):
            for program in programs:  # interleaved: drift in the machine's load hits both
                run, problem = measure(program, folder, work / f"{key}.csv", images)
                if problem:
                    print(run.stderr_tail)
                    raise SystemExit(f"{program.name} failed on {key}: {problem}")
                times[program.name].append(run.seconds)
                cpus[program.name].append(run.cpu_seconds)
                print(
                    f"  {key} #{repeat + 1} {program.name}: {run.seconds:.1f} s "
                    f"(CPU {run.cpu_seconds:.1f} s)"
                )
        wall = median(times["regions"]) / median(times["today"])
        cpu = median(cpus["regions"]) / median(cpus["today"])
        ok = wall <= TARGETS[key] * 1.05 if key == "a" else wall <= TARGETS[key]
        failed |= not ok
        print(
            f"{key} ({images} photos): today {median(times['today']):.1f} s (CPU "
            f"{median(cpus['today']):.1f} s), regions {median(times['regions']):.1f} s (CPU "
            f"{median(cpus['regions']):.1f} s): {wall:.2f}x wall, {cpu:.2f}x CPU; target "
            f"{TARGETS[key]}x{' (within 5 %: noise)' if key == 'a' else ''}: "
            f"{'met' if ok else 'MISSED'}"
        )
    busy = cpu_busy()
    print(f"CPU in use by others at end: {'unknown' if busy is None else f'{busy:.0%}'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
