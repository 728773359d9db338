"""Names and manifest entries of recurrent state inputs and outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

STATE_IN = "state_in"
STATE_OUT = "state_out"


def input_name(key: str) -> str:
    """Graph input carrying state ``key`` (e.g. ``state_in.h``)."""
    return f"{STATE_IN}.{key}"


def output_name(key: str) -> str:
    """Graph output carrying the next value of state ``key``."""
    return f"{STATE_OUT}.{key}"


def flatten_state(state: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) pairs of a nested dict / list of state values, in order."""
    if isinstance(state, dict):
        out = []
        for key in state:
            out += flatten_state(state[key], f"{prefix}{key}.")
        return out
    if isinstance(state, (list, tuple)):
        out = []
        for i, item in enumerate(state):
            out += flatten_state(item, f"{prefix}{i}.")
        return out
    return [(prefix[:-1], state)]


def nest_state(keys: list[str], values: list[Any]) -> dict:
    """Dotted state keys and their values back into RLlib's nested dict."""
    out: dict = {}
    for key, value in zip(keys, values):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def pick_state(nested: Any, keys: list[str]) -> list[Any]:
    """Values of dotted ``keys`` in a nested dict / list, in the order of ``keys``."""
    out = []
    for key in keys:
        node = nested
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
        out.append(node)
    return out


def manifest_entry(state: list[dict]) -> dict | None:
    """The manifest's ``recurrent`` entry (None for stateless policies)."""
    if not state:
        return None
    return {
        "state": [
            {
                "key": s["key"],
                "input": input_name(s["key"]),
                "output": output_name(s["key"]),
                "shape": list(s["shape"]),
                "dtype": s["dtype"],
                "initial": np.asarray(s["initial"], dtype=s["dtype"]).tolist(),
            }
            for s in state
        ]
    }


def state_inputs(state: list[dict]) -> list[dict]:
    """Manifest ``inputs`` entries of the state (batch axis first)."""
    return [
        {"name": input_name(s["key"]), "shape": [None, *s["shape"]], "dtype": s["dtype"]}
        for s in state
    ]
