"""Run SavedModel exports with TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._tf_eager import eager


class SavedModelRunner:
    """The 'serving_default' signature of a SavedModel.

    Args:
        path: The SavedModel directory.
        input_keys: Public input name -> signature input key.
    """

    def __init__(self, path: Path, input_keys: dict[str, str]) -> None:
        import tensorflow as tf

        self._tf = tf
        with eager():
            self._loaded = tf.saved_model.load(str(path))
            self._fn = self._loaded.signatures["serving_default"]
        self._keys = input_keys

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run the signature on named inputs; return ``outputs`` (default: all)."""
        tf = self._tf
        with eager():
            args = {self._keys.get(k, k): tf.constant(v) for k, v in feeds.items()}
            result = self._fn(**args)
            return {k: result[k].numpy() for k in outputs or result}


def load(path: Path, manifest: dict, fmt: str) -> SavedModelRunner:
    """Open a SavedModel export."""
    return SavedModelRunner(path, manifest["files"][fmt].get("input_keys", {}))
