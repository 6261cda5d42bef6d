"""The Ray engine's results: Parquet part files with the CSV's columns, in a folder or a bucket.

A part is only ever seen whole. On a local disk it is written under a hidden temporary name and
renamed into place; on object storage one PUT makes it appear whole or not at all. Its name comes
from the keys it holds, so a batch Ray runs twice (a worker lost and retried) writes the same
part again rather than a second copy of its rows.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from catsort import columns
from catsort.distributed.sources import access_error, filesystem, is_url, protocol_of
from catsort.errors import CatsortError, SettingsError

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
TEMP_PREFIX = ".tmp-"

#: Columns after the CSV's: the resume key (the path is the CSV's first column).
KEY_COLUMNS = ("size", "version")

Key = tuple[str, int, str]


def schema(labels: Sequence[str]) -> Any:
    """The Parquet schema: the CSV's columns, numbers as float64, then the resume key."""
    import pyarrow as pa

    types = {"confidence": pa.float64(), "pet_score": pa.float64()}
    types.update({columns.probability(label): pa.float64() for label in labels})
    fields = [pa.field(name, types.get(name, pa.string())) for name in columns.header(labels)]
    return pa.schema([*fields, pa.field("size", pa.int64()), pa.field("version", pa.string())])


def part_name(keys: Iterable[Key]) -> str:
    """The file name of the part holding these keys: the same keys, the same name."""
    digest = hashlib.sha256()
    for path, size, version in sorted(keys):
        digest.update(f"{path}\0{size}\0{version}\n".encode("utf-8", "surrogateescape"))
    return f"{PART_PREFIX}{digest.hexdigest()[:24]}{PART_SUFFIX}"


def is_part(name: str) -> bool:
    """Tell whether a file name is a committed part (not a temporary one)."""
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)


class ResultStore:
    """The output folder (local or a bucket prefix) that Parquet parts are committed to."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.fs, self.root = filesystem(output)
        self.local = protocol_of(output) == "file"

    def prepare(self) -> None:
        """Make the folder, refusing a file in its place; remove temporary parts left behind."""
        try:
            if self.fs.isfile(self.root):
                raise SettingsError(
                    "{path}: is a file; {output} takes a folder (or a bucket prefix)",
                    path=self.output,
                )
            if self.local:
                os.makedirs(self.root, exist_ok=True)
                for name in os.listdir(self.root):
                    if name.startswith(TEMP_PREFIX):  # a part a killed run was writing
                        os.remove(os.path.join(self.root, name))
        except CatsortError:
            raise
        except Exception as exc:
            raise access_error(self.output, exc) from None

    def parts(self) -> list[str]:
        """The committed parts, sorted by name."""
        try:
            if not self.fs.isdir(self.root):
                return []
            names = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise access_error(self.output, exc) from None
        return sorted(name for name in names if is_part(name.rstrip("/").rsplit("/", 1)[-1]))

    def done(self) -> tuple[set[Key], int]:
        """The keys already in the output, and how many of those rows are errors."""
        import pyarrow.parquet as pq

        keys: set[Key] = set()
        errors = 0
        for part in self.parts():
            with self.fs.open(part, "rb") as stream:
                table = pq.read_table(stream, columns=["path", "status", *KEY_COLUMNS])
            data = table.to_pydict()
            keys.update(zip(data["path"], data["size"], data["version"]))
            errors += sum(1 for status in data["status"] if status == "error")
        return keys, errors

    def commit(self, table: Any, keys: Iterable[Key]) -> str:
        """Write one part whole, named after its keys; return its path."""
        import pyarrow.parquet as pq

        name = part_name(keys)
        if self.local:
            final = os.path.join(self.root, name)
            temp = os.path.join(self.root, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{name}")
            pq.write_table(table, temp)
            with open(temp, "rb") as stream:
                os.fsync(stream.fileno())  # renamed only once its bytes are on the disk
            os.replace(temp, final)
            return final
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        final = f"{self.root.rstrip('/')}/{name}"
        self.fs.pipe_file(final, buffer.getvalue())
        return self.fs.unstrip_protocol(final) if is_url(self.output) else final

    def retire(self, current: dict[str, Key]) -> int:
        """Remove the rows of older versions of these photos; return how many went.

        ``current`` maps a photo's path to its key now, whose row a run has committed. Each part
        holding an older row is written again without it (a new part, named after the keys
        left), then removed: a run killed in between leaves rows twice, never none, and the
        next run's retire ends it.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        removed = 0
        key_names = ["path", *KEY_COLUMNS]
        for part in self.parts():
            with self.fs.open(part, "rb") as stream:  # the keys first: most parts stay as they are
                found = pq.read_table(stream, columns=key_names)
            keys = list(zip(*(found.column(name).to_pylist() for name in key_names)))
            keep = [current.get(key[0], key) == key for key in keys]
            if all(keep):
                continue
            with self.fs.open(part, "rb") as stream:
                left = pq.read_table(stream).filter(pa.array(keep))
            if left.num_rows:
                self.commit(left, [key for key, kept in zip(keys, keep) if kept])
            self.fs.rm(part)
            removed += len(keep) - left.num_rows
        return removed
