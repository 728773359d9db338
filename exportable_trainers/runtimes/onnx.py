"""Run ONNX exports with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class OnnxRunner:
    """ONNX Runtime sessions on the CPU for one export.

    A batch of one runs on a second, single-threaded session (made on first
    use): for one observation through a small network, handing work to the
    intra-op thread pool costs more than it saves (about 20% per call on two
    cores, see docs/benchmarks.md), while larger batches need the pool.

    Args:
        path: The ``.onnx`` file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.session = self._session(threads=0)
        self._single: Any = None
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads  # 0: ONNX Runtime's default pool
        return ort.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def run(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """Run the graph on named inputs."""
        session = self.session
        if len(next(iter(feeds.values()))) == 1:
            if self._single is None:
                self._single = self._session(threads=1)
            session = self._single
        outs = session.run(self.output_names, feeds)
        return dict(zip(self.output_names, outs, strict=False))


def load(path: Path, manifest: dict) -> OnnxRunner:
    """Open an ONNX export."""
    return OnnxRunner(path)
