"""Run ONNX exports with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class OnnxRunner:
    """An ONNX Runtime session on the CPU.

    Args:
        source: The ``.onnx`` file, or a serialized model.
    """

    def __init__(self, source: Path | bytes) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            source if isinstance(source, bytes) else str(source),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run the graph on named inputs; return ``outputs`` (default: all)."""
        names = outputs or self.output_names
        return dict(zip(names, self.session.run(names, feeds), strict=False))

    def contract(self) -> str | None:
        """The JSON contract the file carries in its metadata, or None."""
        from ...contract.formats.onnx import METADATA_KEY

        return self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)


def load(path: Path, manifest: dict, fmt: str) -> OnnxRunner:
    """Open an ONNX export."""
    return OnnxRunner(path)
