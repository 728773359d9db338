"""safetensors: the torch network's weights only, no code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .spec import Format


def read_weights(path: Path) -> dict[str, Any]:
    """The file's tensors as numpy arrays (safetensors' safe loader: no pickle)."""
    from safetensors.numpy import load_file

    return load_file(str(path))


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: which class the state_dict belongs to and how to read it."""
    details = manifest.get("details", {})
    owner = details.get("module_class") or details.get("model_class")
    return [
        "## safetensors (weights only)",
        "",
        f"The network's `state_dict`; load it into the same network class (`{owner}`).",
        "",
        "```python",
        "from safetensors.torch import load_file",
        f'state_dict = load_file("{record["path"]}")',
        "```",
    ]


FORMAT = Format(
    name="safetensors",
    path="weights.safetensors",
    description="the network's weights (state_dict of the RLModule / ModelV2), no code",
    written_by={"torch": "write_safetensors"},
    whole_policy=False,
    runtime=None,
    verify="weights",
    card=card,
    read_weights=read_weights,
    default_for=frozenset({"torch"}),
)
