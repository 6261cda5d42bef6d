"""Photos behind fsspec URLs (s3://, gs://, file://) or local paths: listing and reading them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from catsort.distributed import is_url
from catsort.errors import CatsortError, one_line
from catsort.images import is_image_name

#: Object stores whose listings fsspec would otherwise keep in memory for the whole run.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


@dataclass(frozen=True)
class Entry:
    """One photo to classify: its URL (or local path), size and version (ETag or mtime).

    The three together are the key a rerun uses to skip what an earlier run did.
    """

    path: str
    size: int
    version: str

    @property
    def key(self) -> tuple[str, int, str]:
        """The resume key: (path, size, version)."""
        return (self.path, self.size, self.version)


def storage_options(protocol: str) -> dict[str, Any]:
    """The fsspec options for a protocol, from the standard environment variables.

    s3fs 2026.9 does not read AWS_ENDPOINT_URL itself, so it is passed on here, and MinIO or
    moto work unchanged; credentials stay with botocore (the AWS variables and files).
    """
    options: dict[str, Any] = {}
    if protocol in _OBJECT_STORES:
        # Without this the listing of ten million keys stays in memory until the run ends.
        options["use_listings_cache"] = False
        # A new client each time, with the credentials the environment holds now.
        options["skip_instance_cache"] = True
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": endpoint}
    return options


def protocol_of(url: str) -> str:
    """The URL's protocol (``s3``), ``file`` for a local path."""
    return url.split("://", 1)[0].lower() if is_url(url) else "file"


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec file system for a URL or local path, and the path within it."""
    try:
        import fsspec
    except ImportError:
        raise CatsortError(missing_extra("fsspec")) from None
    protocol = protocol_of(url)
    try:
        return fsspec.core.url_to_fs(url, **storage_options(protocol))
    except ImportError as exc:  # s3fs or gcsfs, each imported by fsspec on first use
        raise CatsortError(
            f"{url}: reading {protocol}:// needs {exc.name or 'its fsspec package'}; "
            'pip install "catsort[distributed]" (gcsfs for gs://)'
        ) from None
    except ValueError as exc:  # an unknown protocol
        raise CatsortError(f"{url}: {one_line(exc)}") from None


def missing_extra(name: str) -> str:
    """The one-line message for the distributed extra not being installed."""
    return (
        f"the Ray engine needs {name}, which is not installed; install it with: "
        'pip install "catsort[distributed]"'
    )


def list_photos(url: str, recursive: bool = True) -> Iterator[Entry]:
    """Yield the photos under a URL, one folder (prefix) at a time, sorted by name.

    As a local walk does: a URL naming one object yields it whatever its name; under a prefix
    only image names are yielded, hidden names (``.name``) skipped. Raises CatsortError (exit 2)
    for a missing bucket or prefix, or credentials that are refused.
    """
    fs, root = filesystem(url)
    shown = url
    try:
        info = fs.info(root)
        if info.get("type") != "directory":
            yield _entry(fs, info, url)
            return
        walk = fs.walk(root, maxdepth=None if recursive else 1, detail=True, on_error="raise")
        for _folder, dirs, files in walk:
            for name in [name for name in dirs if name.startswith(".")]:
                del dirs[name]  # walked top down: a folder taken out here is not entered
            for name in sorted(files):
                if name and not name.startswith(".") and is_image_name(name):
                    yield _entry(fs, files[name], url)
    except CatsortError:
        raise
    except Exception as exc:
        raise access_error(shown, exc) from None


def check_access(url: str) -> None:
    """Raise CatsortError (exit 2) at once if a URL cannot be listed."""
    fs, root = filesystem(url)
    try:
        fs.info(root)
    except Exception as exc:
        raise access_error(url, exc) from None


def access_error(url: str, exc: BaseException) -> CatsortError:
    """The one-line error for a URL that could not be listed or written."""
    if isinstance(exc, FileNotFoundError):
        return CatsortError(f"{url}: no such bucket, prefix or folder")
    if isinstance(exc, PermissionError):
        return CatsortError(
            f"{url}: access denied ({one_line(exc)}); check the credentials "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the endpoint "
            "(AWS_ENDPOINT_URL)"
        )
    return CatsortError(f"{url}: cannot reach it ({type(exc).__name__}: {one_line(exc)})")


def _entry(fs: Any, info: dict[str, Any], url: str) -> Entry:
    """The Entry for a listing's info dict."""
    name = info["name"]
    path = fs.unstrip_protocol(name) if is_url(url) else name
    version = info.get("ETag") or info.get("etag") or info.get("generation") or info.get("mtime")
    if version is None:
        version = info.get("LastModified") or info.get("updated") or ""
    return Entry(path, int(info.get("size") or 0), str(version).strip('"'))


class Reader:
    """Reads whole files by URL, several at once where the file system allows it."""

    def __init__(self) -> None:
        self._systems: dict[str, Any] = {}

    def read(self, paths: Sequence[str]) -> list[bytes | str]:
        """Each file's bytes, or the one-line reason it could not be read (without the path)."""
        if not paths:
            return []
        fs = self._filesystem(paths[0])
        names = [fs._strip_protocol(path) for path in paths]
        found: list[Any]
        if getattr(fs, "async_impl", False):
            # s3fs and gcsfs: the batch's GETs at once, on the file system's own event loop
            # (fs.cat would first ask for each object's details, a second request each).
            import asyncio

            from fsspec.asyn import sync

            async def fetch() -> list[Any]:
                calls = [fs._cat_file(name) for name in names]
                return await asyncio.gather(*calls, return_exceptions=True)

            found = sync(fs.loop, fetch)
        else:
            found = []
            for name in names:
                try:
                    found.append(fs.cat_file(name))
                except OSError as exc:
                    found.append(exc)
        return [read_error(item) if isinstance(item, BaseException) else item for item in found]

    def _filesystem(self, path: str) -> Any:
        protocol = protocol_of(path)
        if protocol not in self._systems:
            self._systems[protocol] = filesystem(path)[0]
        return self._systems[protocol]


def read_error(exc: BaseException) -> str:
    """Why a file could not be read, in the words the local engine uses."""
    if isinstance(exc, FileNotFoundError):
        return "file not found (moved or deleted?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image"
    return f"cannot read it ({type(exc).__name__}: {one_line(exc)})"
