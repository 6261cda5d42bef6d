"""Fail unless a wheel installs nothing at the top level of site-packages but catsort."""

from __future__ import annotations

import sys
import zipfile

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as archive:
    record = next(name for name in archive.namelist() if name.endswith(".dist-info/RECORD"))
    paths = [line.split(",")[0] for line in archive.read(record).decode().splitlines() if line]
top = sorted(
    {path.split("/")[0] for path in paths if not path.split("/")[0].endswith(".dist-info")}
)
print(f"{wheel}: top-level names {top}")
needed = ["catsort/training/train.py", "catsort/exported/catsort.tflite", "catsort/py.typed"]
missing = [path for path in needed if path not in paths]
if top != ["catsort"] or missing:
    sys.exit(f"{wheel}: expected only catsort at the top level with {needed}; missing {missing}")
