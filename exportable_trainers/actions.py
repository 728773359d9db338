"""How a policy turns its network output into an environment action, as data.

The spec is built once from RLlib's action-distribution class and the config's
``normalize_actions`` / ``clip_actions``; every exporter turns it into graph ops,
and :func:`deterministic_action` is the numpy version the loader uses for
formats that hold only the network (h5, keras).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import ManifestError

# Distribution kinds and what their deterministic action is:
#   categorical        argmax over the logits
#   multi_categorical  argmax within each of ``input_lens`` slices
#   diag_gaussian      the mean (first half of the inputs)
#   squashed_gaussian  new stack: the pre-tanh mean, like RLlib's to_deterministic();
#                      old stack: tanh(mean) rescaled into [low, high]
#   deterministic      the inputs themselves
KINDS = ("categorical", "multi_categorical", "diag_gaussian", "squashed_gaussian", "deterministic")
POSTPROCESS = ("none", "unsquash", "shift", "clip")


def _bounds(space: Any) -> tuple[list, list]:
    low = np.asarray(space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(space.high, dtype=np.float64).reshape(-1)
    return low.tolist(), high.tolist()


def postprocess_spec(action_space: Any, normalize_actions: bool, clip_actions: bool) -> dict:
    """What RLlib does to a computed action before it reaches the env.

    Mirrors ``unsquash_action`` / ``clip_action`` in ray.rllib.utils.spaces.space_utils:
    unsquash maps [-1, 1] to a bounded float Box and clips; integer Boxes are shifted
    by ``low``; clip clips any Box; other spaces pass through.

    Args:
        action_space: The environment's action space.
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
    """The numpy dtype name of actions sent to the env."""
    from gymnasium import spaces

    if isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete)):
        return "int64"
    if isinstance(action_space, spaces.MultiBinary):
        return "int8"
    return np.dtype(action_space.dtype).name


def action_shape(action_space: Any) -> list[int]:
    """Per-sample shape of an action (without the batch axis)."""
    from gymnasium import spaces

    if isinstance(action_space, spaces.Discrete):
        return []
    return list(action_space.shape)


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def deterministic_action(spec: dict, dist_inputs: np.ndarray) -> np.ndarray:
    """Compute the env action from distribution inputs with numpy only.

    Args:
        spec: The manifest's ``action`` entry.
        dist_inputs: Batch of distribution inputs, shape ``[B, n]``.

    Returns:
        Actions with shape ``[B, *action_shape]`` and the manifest's dtype.
    """
    kind = spec.get("distribution")
    x = np.asarray(dist_inputs)
    if kind == "categorical":
        a = np.argmax(x, axis=-1)
    elif kind == "multi_categorical":
        splits = np.cumsum(spec["input_lens"])[:-1]
        a = np.stack([np.argmax(p, axis=-1) for p in np.split(x, splits, axis=-1)], axis=-1)
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
        raise ManifestError(f"unknown action distribution {kind!r}; known: {', '.join(KINDS)}")
    a = apply_postprocess(spec.get("postprocess", {"kind": "none"}), a)
    shape = spec.get("shape")
    if shape is not None:
        a = a.reshape((a.shape[0], *shape))
    return a.astype(spec.get("dtype", a.dtype), copy=False)


def apply_postprocess(post: dict, a: np.ndarray) -> np.ndarray:
    """numpy version of RLlib's unsquash / clip of actions."""
    kind = post.get("kind", "none")
    if kind == "none":
        return a
    if kind == "shift":
        return a + np.asarray(post["low"]).astype(a.dtype)
    low = np.asarray(post["low"], np.float32)
    high = np.asarray(post["high"], np.float32)
    if kind == "unsquash":
        a = low + (a + 1.0) * (high - low) / 2.0
        return np.clip(a, low, high)
    if kind == "clip":
        return np.clip(a, low, high)
    raise ManifestError(f"unknown action postprocess {kind!r}; known: {', '.join(POSTPROCESS)}")
