"""Run the network-only Keras exports: h5 (tf_keras, Keras 2) and .keras (Keras 3)."""

from __future__ import annotations

import json
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

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run the network on its single (preprocessed) input; return ``outputs`` (default: all)."""
        x = np.asarray(feeds[self.network["inputs"][0]["name"]], np.float32)
        with eager():
            outs = self.model(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        result = {}
        for entry in self.network["outputs"]:
            value = np.asarray(outs[entry["index"]])
            result[entry["name"]] = value.reshape([-1 if d is None else d for d in entry["shape"]])
        return {k: result[k] for k in outputs or result}


def _code_in_config(node: Any) -> str | None:
    """Name of the first config entry that would make Keras run Python code."""
    if isinstance(node, dict):
        if node.get("class_name") == "Lambda":
            return f"Lambda layer {node.get('config', {}).get('name', '')!r}"
        if node.get("function_type") == "lambda" or "__lambda__" in node:
            return "a serialized Python function"
        for value in node.values():
            found = _code_in_config(value)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _code_in_config(value)
            if found:
                return found
    return None


def check_h5_has_no_code(path: Path) -> None:
    """Refuse an HDF5 model whose config carries Python bytecode (tf_keras would run it).

    Raises:
        IntegrityError: The file holds a Lambda layer or a serialized function,
            or no readable model config.
    """
    import h5py

    from ...exceptions import IntegrityError

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
    if raw is None:
        raise IntegrityError(f"{path} holds no Keras model config")
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    found = _code_in_config(config)
    if found:
        raise IntegrityError(
            f"refusing to load {path}: it contains {found}, which would run Python code"
        )


def load_h5(path: Path, manifest: dict, fmt: str) -> KerasRunner:
    """Open an h5 export with tf_keras (no custom_objects needed), after checking it runs no code."""
    import tf_keras

    check_h5_has_no_code(path)

    with eager():
        return KerasRunner(
            tf_keras.models.load_model(str(path), compile=False), manifest["network"]
        )


def load_keras3(path: Path, manifest: dict, fmt: str) -> KerasRunner:
    """Open a .keras export with Keras 3 (safe mode: no code is deserialized)."""
    import keras

    with eager():
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    return KerasRunner(model, manifest["network"])
