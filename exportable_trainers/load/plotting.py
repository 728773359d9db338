"""matplotlib for the Ray-free plots, imported only when a plot is asked for."""

from __future__ import annotations

import os
from pathlib import Path
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


def save(fig: Any, path: str | os.PathLike) -> Path:
    """Lay out, write and close a figure.

    Args:
        fig: The matplotlib figure.
        path: Where the PNG goes.
    """
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
