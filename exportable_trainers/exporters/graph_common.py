"""Constants that torch and TensorFlow graphs derive from the same step data."""

from __future__ import annotations

import numpy as np


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
