"""safetensors: the torch network's weights only, no code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cards import section
from .spec import TORCH, Format


def read_weights(path: Path) -> dict[str, Any]:
    """The file's tensors as numpy arrays (safetensors' safe loader: no pickle)."""
    from safetensors.numpy import load_file

    return load_file(str(path))


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: which class the state_dict belongs to and how to read it."""
    details = manifest.get("details", {})
    owner = details.get("module_class") or details.get("model_class")
    text = f"The network's `state_dict`; load it into the same network class (`{owner}`)."
    code = [
        "from safetensors.torch import load_file",
        f'state_dict = load_file("{record["path"]}")',
    ]
    return section("safetensors (weights only)", text, code)


# fmt: off
FORMAT = Format(
    name="safetensors", path="weights.safetensors", frameworks=TORCH, default_for=TORCH,
    description="the network's weights (state_dict of the RLModule / ModelV2), no code",
    whole_policy=False, verify="weights", read_weights=read_weights,
    card=card,
)
# fmt: on
