"""Run the network-only Keras exports: h5 (tf_keras, Keras 2) and .keras (Keras 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._tf_eager import eager


class KerasRunner:
    """A Keras model whose outputs are named by the manifest's ``network`` entry.

    Args:
        model: The loaded Keras model.
        network: The manifest's ``network`` entry.
    """

    def __init__(self, model: Any, network: dict) -> None:
        self.model = model
        self.network = network

    def run(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """Run the network on its single (preprocessed) input."""
        x = np.asarray(feeds[self.network["inputs"][0]["name"]], np.float32)
        with eager():
            outs = self.model(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        result = {}
        for entry in self.network["outputs"]:
            value = np.asarray(outs[entry["index"]])
            result[entry["name"]] = value.reshape([-1 if d is None else d for d in entry["shape"]])
        return result


def load_h5(path: Path, manifest: dict) -> KerasRunner:
    """Open an h5 export with tf_keras (no custom_objects needed)."""
    import tf_keras

    with eager():
        return KerasRunner(
            tf_keras.models.load_model(str(path), compile=False), manifest["network"]
        )


def load_keras3(path: Path, manifest: dict) -> KerasRunner:
    """Open a .keras export with Keras 3 (safe mode: no code is deserialized)."""
    import keras

    with eager():
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    return KerasRunner(model, manifest["network"])
