"""matplotlib for the Ray-free plots, imported only when a plot is asked for."""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed).

    Raises:
        ImportError: matplotlib is not installed (names the extra that installs it).
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plots need matplotlib; pip install 'exportable_trainers[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
