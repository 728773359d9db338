"""How a policy's actions reach the environment, as data, and the numpy forms of it.

The manifest's ``action`` entry says where RLlib's ``explore=False`` action comes
from (``source``: the module's own ``actions`` output, or the deterministic
sample of its action distribution, both traced into whole-policy graphs) and,
per leaf of the action space (``leaves``: ``action``, ``action.0``,
``action.<key>``), its dtype, shape and RLlib's unsquash / clip step
(``postprocess``).

Two things here are re-implemented with numpy because they cannot be traced:
RLlib's NormalizeAndClipActions connector (numpy code in RLlib too), and, for
formats that hold only the network (h5, keras), the deterministic action of the
few distributions whose ``distribution`` kind is recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ManifestError
from .ops import NUMPY, finish_action

# Distribution kinds the numpy path knows, and what their deterministic action is:
#   categorical        argmax over the logits
#   multi_categorical  argmax within each of ``input_lens`` slices
#   diag_gaussian      the mean (first half of the inputs)
#   squashed_gaussian  new stack: the pre-tanh mean, like RLlib's to_deterministic();
#                      old stack: tanh(mean) rescaled into [low, high]
#   deterministic      the inputs themselves
KINDS = ("categorical", "multi_categorical", "diag_gaussian", "squashed_gaussian", "deterministic")


def _bounds(space: Any) -> tuple[list, list]:
    low = np.asarray(space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(space.high, dtype=np.float64).reshape(-1)
    return low.tolist(), high.tolist()


def postprocess_spec(action_space: Any, normalize_actions: bool, clip_actions: bool) -> dict:
    """What RLlib does to one computed action leaf before it reaches the env.

    Mirrors ``unsquash_action`` / ``clip_action`` in ray.rllib.utils.spaces.space_utils:
    unsquash maps [-1, 1] to a bounded float Box and clips; integer Boxes are shifted
    by ``low``; clip clips any Box; other spaces pass through.

    Args:
        action_space: One leaf of the environment's action space.
        normalize_actions: The algorithm config's ``normalize_actions``.
        clip_actions: The algorithm config's ``clip_actions``.
    """
    from gymnasium import spaces

    if not isinstance(action_space, spaces.Box):
        return {"kind": "none"}
    bounded = bool(np.all(action_space.bounded_below) and np.all(action_space.bounded_above))
    low, high = _bounds(action_space)
    if normalize_actions:
        if not bounded:
            return {"kind": "none"}
        if np.issubdtype(action_space.dtype, np.floating):
            return {"kind": "unsquash", "low": low, "high": high}
        if np.issubdtype(action_space.dtype, np.integer):
            return {"kind": "shift", "low": low}
        return {"kind": "none"}
    if clip_actions:
        return {"kind": "clip", "low": low, "high": high}
    return {"kind": "none"}


def action_dtype(action_space: Any) -> str:
    """The numpy dtype name of one action leaf sent to the env."""
    from gymnasium import spaces

    if isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete)):
        return "int64"
    if isinstance(action_space, spaces.MultiBinary):
        return "int8"
    return np.dtype(action_space.dtype).name


def action_shape(action_space: Any) -> list[int]:
    """Per-sample shape of one action leaf (without the batch axis)."""
    from gymnasium import spaces

    if isinstance(action_space, spaces.Discrete):
        return []
    return list(action_space.shape)


def leaf_specs(action_space: Any, normalize_actions: bool, clip_actions: bool) -> list[dict]:
    """The ``leaves`` entry: name, dtype, shape and postprocess step of every action leaf."""
    from .observations import action_leaves

    return [
        {
            "name": name,
            "dtype": action_dtype(leaf),
            "shape": action_shape(leaf),
            "postprocess": postprocess_spec(leaf, normalize_actions, clip_actions),
        }
        for name, leaf in action_leaves(action_space)
    ]


def action_spec(
    action_space: Any,
    normalize_actions: bool,
    clip_actions: bool,
    source: str,
    rllib_class: str,
    numpy_head: dict | None = None,
) -> dict:
    """The manifest's ``action`` entry.

    Args:
        action_space: The environment's action space.
        normalize_actions: The config's ``normalize_actions``.
        clip_actions: The config's ``clip_actions``.
        source: "module" (its forward returns actions) or "distribution"
            (the deterministic sample of its action distribution).
        rllib_class: Dotted name of the class that computes the action.
        numpy_head: ``{"distribution": kind, ...}`` when the numpy path can compute
            the action from the distribution inputs; None otherwise.
    """
    leaves = leaf_specs(action_space, normalize_actions, clip_actions)
    spec: dict[str, Any] = {"source": source, "rllib_class": rllib_class}
    spec.update(numpy_head or {"distribution": None})
    spec["leaves"] = leaves
    if len(leaves) == 1 and leaves[0]["name"] == "action":
        # Flat fields of a single-leaf action, as protocol-1 manifests have always had.
        spec.update({k: leaves[0][k] for k in ("dtype", "shape", "postprocess")})
    return spec


def leaves_of(spec: dict) -> list[dict]:
    """The action leaves of a manifest ``action`` entry (older manifests: the one flat leaf)."""
    if "leaves" in spec:
        return spec["leaves"]
    return [
        {
            "name": "action",
            "dtype": spec.get("dtype", "float32"),
            "shape": spec.get("shape"),
            "postprocess": spec.get("postprocess", {"kind": "none"}),
        }
    ]


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def categorical_parts(spec: dict, dist_inputs: np.ndarray) -> list[np.ndarray]:
    """The logits of each sub-distribution of a (multi-)categorical head.

    Args:
        spec: The manifest's ``action`` entry; ``input_lens`` splits a
            multi-categorical head, a categorical head is one part.
        dist_inputs: Batch of distribution inputs, shape ``[B, n]``.
    """
    x = np.asarray(dist_inputs)
    lens = spec.get("input_lens") or [x.shape[-1]]
    return np.split(x, np.cumsum(lens)[:-1], axis=-1)


def deterministic_action(spec: dict, dist_inputs: np.ndarray) -> np.ndarray:
    """The env action from distribution inputs, with numpy only (network-only formats).

    Args:
        spec: The manifest's ``action`` entry; its ``distribution`` kind must be set
            and the action space must have a single leaf.
        dist_inputs: Batch of distribution inputs, shape ``[B, n]``.

    Returns:
        Actions with shape ``[B, *action_shape]`` and the manifest's dtype.

    Raises:
        ManifestError: The entry names no kind this function knows.
    """
    kind = spec.get("distribution")
    leaves = leaves_of(spec)
    if len(leaves) != 1:
        raise ManifestError(f"the numpy action head takes one action leaf, not {len(leaves)}")
    x = np.asarray(dist_inputs)
    if kind == "categorical":
        a = np.argmax(x, axis=-1)
    elif kind == "multi_categorical":
        a = np.stack([np.argmax(p, axis=-1) for p in categorical_parts(spec, x)], axis=-1)
    elif kind in ("diag_gaussian", "squashed_gaussian"):
        a = _as_float(np.split(x, 2, axis=-1)[0])
        if kind == "squashed_gaussian" and spec.get("squash"):
            low = np.asarray(spec["low"], np.float32)
            high = np.asarray(spec["high"], np.float32)
            a = ((np.tanh(a) + 1.0) / 2.0) * (high - low) + low
            a = np.clip(a, low, high)
    elif kind == "deterministic":
        a = _as_float(x)
    else:
        raise ManifestError(
            f"no numpy action head for distribution {kind!r} "
            f"({spec.get('rllib_class', 'unknown class')}); known: {', '.join(KINDS)}"
        )
    return finish_leaf(leaves[0], a)


def finish_leaf(leaf: dict, a: np.ndarray) -> np.ndarray:
    """RLlib's unsquash / clip of one action leaf, then the leaf's dtype (:func:`.ops.finish_action`)."""
    return finish_action(NUMPY, np.asarray(a), leaf)
