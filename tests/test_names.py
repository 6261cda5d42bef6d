"""File names on one terminal line: control characters and bad bytes escaped, the rest kept."""

from __future__ import annotations

import os

import pytest

from catsort.names import shown


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("esc\x1b[31mred.jpg", "esc\\x1b[31mred.jpg"),  # would recolour the terminal
        ("two\nlines.jpg", "two\\nlines.jpg"),
        ("tab\there.jpg", "tab\\there.jpg"),
        ("line\u2028sep.jpg", "line\\u2028sep.jpg"),
        (os.fsdecode(b"caf\xe9.jpg"), "caf\\xe9.jpg"),  # a Latin-1 name on a UTF-8 system
    ],
)
def test_control_characters_and_bad_bytes_are_escaped(name, expected):
    assert shown(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Screenshot 2026-11-29 at 10.00.00\u202fAM.png",  # macOS puts a narrow no-break space there
        # a zero-width non-joiner in Persian
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.jpg",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467.jpg",  # an emoji joined by ZWJs
        "ünïcødé 猫 [2020].jpg",
    ],
)
def test_names_people_write_are_kept_as_they_are(name):
    assert shown(name) == name
