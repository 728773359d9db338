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


def state_values(state_out: Any, keys: list[str]) -> list[Any]:
    """The values of dotted state keys in a module's (nested) ``state_out``.

    Keys are the dm-tree paths of ``get_initial_state()`` joined with dots, so
    lists, dicts and integer dict keys are all addressed alike.
    """
    import tree

    flat = {".".join(map(str, path)): value for path, value in tree.flatten_with_path(state_out)}
    if missing := [k for k in keys if k not in flat]:
        raise KeyError(
            f"state_out lacks {missing}; it has {sorted(flat)} (it must mirror get_initial_state())"
        )
    return [flat[k] for k in keys]


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
