"""Run TorchScript exports with torch (CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class TorchScriptRunner:
    """A TorchScript module loaded on the CPU.

    Args:
        path: The ``.pt`` file.
        input_names: Graph inputs in positional order.
        output_names: Names of the returned tuple's items.
    """

    def __init__(self, path: Path, input_names: list[str], output_names: list[str]) -> None:
        import torch

        self._torch = torch
        self.module = torch.jit.load(str(path), map_location="cpu").eval()
        self.input_names = input_names
        self.output_names = output_names

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run the module on named inputs; return ``outputs`` (default: all)."""
        torch = self._torch
        args = [torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in self.input_names]
        with torch.inference_mode():
            outs = dict(zip(self.output_names, self.module(*args), strict=False))
        return {n: outs[n].numpy() for n in outputs or self.output_names}


def load(path: Path, manifest: dict, fmt: str) -> TorchScriptRunner:
    """Open a TorchScript export."""
    return TorchScriptRunner(
        path,
        [i["name"] for i in manifest["inputs"]],
        [o["name"] for o in manifest["outputs"]],
    )
