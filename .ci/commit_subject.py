"""Refuse a commit whose subject (the message's first line) is over 72 characters.

The commit-msg hook in .pre-commit-config.yaml runs it with the file git wrote the message to:
    python .ci/commit_subject.py .git/COMMIT_EDITMSG
"""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 72


def subject(message: str) -> str:
    """The line git shows as the subject: the first that is neither blank nor a # comment."""
    for line in message.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.rstrip()
    return ""


def main(argv: list[str]) -> int:
    """Check the message file named in argv[1]; 1 (with the reason on stderr) when too long."""
    path = Path(argv[1])
    line = subject(path.read_text(encoding="utf-8", errors="replace"))
    if len(line) <= LIMIT:
        return 0
    print(
        f"The commit subject is {len(line)} characters; keep it to {LIMIT} and put the "
        f"details in the body, after a blank line ({path} keeps the message):\n  {line}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
