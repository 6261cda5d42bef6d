"""Keeping TensorFlow's own log lines off the screen (``catsort train`` without --verbose).

No TensorFlow here: :func:`quiet_tensorflow` must run before it is imported, since its C++
logging reads ``TF_CPP_MIN_LOG_LEVEL`` once, at import.
"""

from __future__ import annotations

import os
import warnings


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ and Python log lines and its library warnings in this process.

    Leaves a ``TF_CPP_MIN_LOG_LEVEL`` the user set alone. Errors catsort can name still come
    as one-line CatsortErrors; this only hides what the user cannot act on (CPU features,
    SavedModel loading, converter notes, deprecations).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++: errors and fatal only off too
    warnings.filterwarnings("ignore", module=r"(tensorflow|keras)(\.|$)")
    try:
        import absl.logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return
    absl.logging.set_verbosity(absl.logging.ERROR)
