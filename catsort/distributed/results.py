"""Reading the Ray engine's results behind a URL for ``catsort report`` (catsort.report.read).

``register`` hands catsort.report.read this reader; catsort.api does, for a URL.
"""

from __future__ import annotations

from typing import Any

from catsort import distributed
from catsort.distributed.sources import access_error
from catsort.distributed.store import ResultStore
from catsort.errors import CatsortError, one_line
from catsort.report.read import register_url_source


class ParquetParts:
    """The Parquet parts under a URL (a bucket prefix), or the one part it names."""

    def read_tables(self, url: str) -> list[Any]:
        """Each part as a pyarrow table; CatsortError naming the URL or part that failed."""
        if distributed.missing():
            raise CatsortError(
                f'{url}: reading results from a URL needs pip install "catsort[distributed]"'
            )
        import pyarrow.parquet as pq

        store = ResultStore(url)
        try:
            files = store.parts() or ([store.root] if store.fs.isfile(store.root) else [])
        except CatsortError:
            raise
        except Exception as exc:
            raise access_error(url, exc) from None
        if not files:
            raise CatsortError(f"{url}: no catsort Parquet results there (no part-*.parquet)")
        tables = []
        for file in files:
            try:
                with store.fs.open(file, "rb") as stream:
                    tables.append(pq.read_table(stream))
            except (OSError, ValueError) as exc:
                raise CatsortError(f"{file}: unreadable Parquet file ({one_line(exc)})") from None
        return tables


def register() -> None:
    """Let catsort.report.read read results behind URLs through ParquetParts."""
    register_url_source(ParquetParts())
