"""File names (and other text read from disk) made safe to print on one line."""

from __future__ import annotations

from pathlib import Path


def shown(path: Path | str) -> str:
    """The text with control characters and undecodable bytes escaped, for one terminal line."""
    text = str(path)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")
