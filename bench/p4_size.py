"""P4: bytes written per format vs the parameter bytes of the model."""

from __future__ import annotations

import json
from pathlib import Path

from .common import Row, run_python

CHILD = str(Path(__file__).with_name("size_child.py"))
TARGET = 1.2


def _rows(framework: str, params: int, files: dict[str, int]) -> list[Row]:
    return [
        Row(
            "P4",
            f"{framework}: {fmt} bytes vs parameter bytes",
            size,
            params,
            "bytes",
            size / params,
            f"<= {TARGET}",
            size / params <= TARGET,
            "default PPO model (256x256 MLPs, actor and critic)",
        )
        for fmt, size in files.items()
    ]


def run(new_checkpoint: Path, new_algo) -> list[Row]:
    module = new_algo.learner_group._learner.module["default_policy"]
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    manifest = json.loads((new_checkpoint / "export/default_policy/manifest.json").read_text())
    rows = _rows("torch (new stack)", params, {k: v["bytes"] for k, v in manifest["files"].items()})
    tf = run_python(CHILD, env={"TF_USE_LEGACY_KERAS": "1"})
    return rows + _rows("tf2 (old stack)", tf["params"], tf["files"])
