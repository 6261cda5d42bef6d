"""File names (and other text read from disk) made safe to print on one line; URLs told apart."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

# Control characters (an escape sequence could recolour or rewrite the terminal, a newline
# splits a line), line and paragraph separators, and undecodable bytes (os.fsdecode keeps
# them as lone surrogates). Other characters print as they are: U+202F in macOS screenshot
# names, the joiners in emoji and Persian names.
_ESCAPED = {"Cc", "Zl", "Zp", "Cs"}


def shown(path: Path | str) -> str:
    """The text with control characters and undecodable bytes escaped, for one terminal line."""
    text = str(path)
    if text.isprintable():
        return text
    return "".join(
        _escaped(char) if unicodedata.category(char) in _ESCAPED else char for char in text
    )


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str | os.PathLike[str]) -> bool:
    """Tell whether an input is a URL (``s3://bucket/prefix``) rather than a local path."""
    return bool(_URL.match(os.fspath(text)))
