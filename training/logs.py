"""What ``catsort train`` shows while it works: its own lines and bars, not TensorFlow's.

No TensorFlow here: :func:`quiet_tensorflow` must run before it is imported, since its C++
logging reads ``TF_CPP_MIN_LOG_LEVEL`` once, at import. Some native lines ignore that setting
(the oneDNN notice absl prints before its logging starts, the TFLite converter's
``fully_quantize: ...``, LiteRT's XNNPACK line): :func:`filtered_stderr` drops them where they
are written, on the process's stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

#: Lines native code writes on stderr that tell a user nothing to act on: absl's INFO and
#: WARNING lines (``I0000 00:00:...``), TensorFlow's (``2026-12-03 10:00:00.000: I tensorflow``),
#: LiteRT's ``INFO:`` lines and the TFLite converter's settings.
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog"
    r"|[IW]\d{4} \d\d:\d\d:\d\d"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] "
    r"|INFO: "
    r"|fully_quantize: "
    r"|Estimated count of arithmetic ops"
    r"|WARNING: Logging before InitGoogleLogging)"
)


def quiet_tensorflow() -> None:
    """Hide TensorFlow's, Keras' and matplotlib's log lines and warnings in this process.

    Leaves a ``TF_CPP_MIN_LOG_LEVEL`` the user set alone. Errors catsort can name still come
    as one-line CatsortErrors; this only hides what the user cannot act on (CPU features,
    SavedModel loading, converter notes, retracing notes, deprecations, missing glyphs).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++: errors and fatal only off too
    warnings.filterwarnings("ignore", module=r"(tensorflow|keras|matplotlib)(\.|$)")
    for name in ("tensorflow", "keras", "matplotlib", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import absl.logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return
    absl.logging.set_verbosity(absl.logging.ERROR)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Drop ``NOISE`` lines that native code writes on stderr while this is open.

    The stderr file descriptor is pointed at a pipe whose other end a thread reads, passing on
    every other line; ``sys.stderr`` (catsort's own lines and progress bars, Python's messages)
    writes straight to the real stderr meanwhile. Without a real stderr (captured, as in
    tests), nothing changes.
    """
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    real = os.dup(stderr_fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, stderr_fd)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, real), daemon=True)
    forwarder.start()
    python_stderr = sys.stderr
    direct = open(  # noqa: SIM115 - closed below
        os.dup(real), "w", buffering=1, encoding=python_stderr.encoding, errors="replace"
    )
    sys.stderr = direct
    try:
        yield
    finally:
        sys.stderr = python_stderr
        direct.close()
        os.dup2(real, stderr_fd)  # closes the pipe's write end: the thread reads to its end
        forwarder.join(timeout=5)
        os.close(real)


def _forward(read_end: int, real: int) -> None:
    """Copy lines from ``read_end`` to ``real``, leaving out ``NOISE``."""
    with open(read_end, "rb") as pipe:
        for line in pipe:
            if not NOISE.match(line.decode(errors="replace")):
                os.write(real, line)


def bar(total: int, description: str, unit: str = "photo") -> Any:
    """A progress bar on a terminal (tqdm); elsewhere a silent one, so logs get no redraws.

    The caller says a line when the work is done, so logs still show each step.
    """
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5,
        file=sys.stderr,
        disable=not _is_terminal(),
    )


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
