"""What torch and TensorFlow exporters share: constants from step data, quiet converters."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Silence a converter's progress prints, its log lines and deprecation chatter."""
    muted = [logging.getLogger(name) for name in loggers]
    levels = [log.level for log in muted]
    for log in muted:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(muted, levels):
            log.setLevel(level)


def leaf_encoders(step: dict) -> list[tuple[str, list[int], list[int]]]:
    """(kind, one-hot sizes, index starts) of each leaf of a ``flatten`` step."""
    return [
        (
            leaf["kind"],
            [int(n) for n in leaf.get("sizes", [])],
            [int(s) for s in leaf.get("starts", [])],
        )
        for leaf in step["leaves"]
    ]


def mean_std_constants(step: dict) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(mean, denom, clip) of a ``mean_std`` step; the graph computes (x - mean) / denom."""
    mean = np.asarray(step["mean"], dtype=np.float32)
    denom = np.asarray(step["denom"], dtype=np.float32)
    return mean, denom, step.get("clip")
