"""Benchmark the Ray engine against the local engine on the same photos, in the same run.

    python benchmarks/bench_distributed.py                   # the 1,000 validation photos
    python benchmarks/bench_distributed.py --photos DIR --repeats 3 --json out.json

Both engines run in this process on the shipped model, alternately, ``--repeats`` times each:
the local engine as ``catsort classify --csv`` does (catsort.classify: worker threads, one
interpreter each), the Ray engine as ``catsort classify --engine ray`` does, into a fresh
output folder each time, on a local Ray started once with this machine's cores. Ray's start-up
is timed on its own; the overhead ratio compares classification time (best of the repeats).
Needs the distributed extra: pip install ".[distributed]".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from measure import cpu_busy

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "cats_and_dogs_filtered" / "validation"


def main() -> int:
    """Run both engines, print the figures, optionally write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    if not args.photos.is_dir():
        print(f"{args.photos}: no such folder (--photos DIR)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    import catsort
    from catsort.distributed.engine import run_ray, start_ray, usable_cores
    from catsort.images import quiet_pillow_warnings
    from catsort.types import RunSettings

    quiet_pillow_warnings()
    cores = usable_cores()
    busy = cpu_busy()
    model = catsort.load_model(args.model)
    started = time.perf_counter()
    start_ray()
    ray_start = time.perf_counter() - started

    local_times: list[float] = []
    ray_times: list[float] = []
    photos = 0
    for _ in range(args.repeats):
        started = time.perf_counter()
        photos = sum(1 for _ in catsort.classify(args.photos, model, cache=False))
        local_times.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory(prefix="catsort-bench-ray-") as out:
            started = time.perf_counter()
            summary = run_ray([str(args.photos)], out, args.model, RunSettings())
            ray_times.append(time.perf_counter() - started)
            assert summary.files == photos, (summary.files, photos)

    local, ray = min(local_times), min(ray_times)
    figures = {
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "photos": photos,
        "cores": cores,
        "cpu_in_use_by_others_at_start": busy,
        "repeats": args.repeats,
        "ray_start_s": round(ray_start, 2),
        "local_s": [round(t, 2) for t in local_times],
        "ray_s": [round(t, 2) for t in ray_times],
        "local_photos_per_s": round(photos / local, 1),
        "ray_photos_per_s": round(photos / ray, 1),
        "ray_photos_per_s_per_core": round(photos / ray / cores, 1),
        "overhead_ratio": round(ray / local, 2),
    }
    for key, value in figures.items():
        print(f"{key:32} {value}")
    per_core = photos / ray / cores
    hours = 10_000_000 / (per_core * 100) / 3600
    print(f"10 million photos on 100 cores at this rate per core: {hours:.1f} h")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
