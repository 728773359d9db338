"""Observations: validation, splitting into graph inputs, and numpy preprocessing.

Vocabulary shared by the exporters (which put it into graphs) and the loader
(which applies it with numpy for formats that hold only the network):

* An observation space is split into *leaves*: Dict keys in sorted order (the
  order RLlib's flattening uses), Tuple items in order, recursively. Each leaf
  is one graph input, named ``obs`` for a plain space, else ``obs.<key>`` /
  ``obs.<index>`` joined with dots.
* ``steps`` turn the leaves into the network input:
  ``{"op": "flatten", "leaves": [...]}`` encodes each leaf (``box`` reshaped to
  1-D float, ``onehot`` / ``multi_onehot`` with ``sizes`` and ``starts``,
  ``binary`` as float) and concatenates them;
  ``{"op": "mean_std", "mean": [...], "denom": [...], "clip": c}`` computes
  ``(x - mean) / denom`` and clips to ``[-c, c]`` when ``c`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from ..exceptions import ObservationError


def observation_leaves(space: spaces.Space, prefix: str = "obs") -> list[tuple[str, spaces.Space]]:
    """(input name, leaf space) pairs of an observation space, in graph-input order."""
    if isinstance(space, spaces.Dict):
        out = []
        for key in sorted(space.spaces):
            out += observation_leaves(space.spaces[key], f"{prefix}.{key}")
        return out
    if isinstance(space, spaces.Tuple):
        out = []
        for i, sub in enumerate(space.spaces):
            out += observation_leaves(sub, f"{prefix}.{i}")
        return out
    return [(prefix, space)]


def action_leaves(space: spaces.Space) -> list[tuple[str, spaces.Space]]:
    """(output name, leaf space) pairs of an action space: ``action``, ``action.0``, ``action.<key>``."""
    return observation_leaves(space, "action")


def nest_leaves(space: spaces.Space, values: Sequence[Any]) -> Any:
    """Put one value per leaf (in leaf order) back into the space's Dict / Tuple structure.

    Args:
        space: The space whose structure to rebuild.
        values: One value per leaf of ``space``, in :func:`observation_leaves` order.
    """
    items = iter(values)

    def build(sub: spaces.Space) -> Any:
        if isinstance(sub, spaces.Dict):
            return {key: build(sub.spaces[key]) for key in sorted(sub.spaces)}
        if isinstance(sub, spaces.Tuple):
            return tuple(build(s) for s in sub.spaces)
        return next(items)

    return build(space)


def leaf_dtype(space: spaces.Space) -> np.dtype:
    """dtype of the graph input for one leaf."""
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return np.dtype(np.int64)
    if isinstance(space, spaces.MultiBinary):
        return np.dtype(np.int8)
    return np.dtype(space.dtype)


def leaf_shape(space: spaces.Space) -> list[int]:
    """Per-sample shape of the graph input for one leaf."""
    if isinstance(space, spaces.Discrete):
        return []
    return [int(d) for d in space.shape]


def input_specs(space: spaces.Space) -> list[dict]:
    """Manifest ``inputs`` entries (name, shape with None batch, dtype) for the leaves."""
    return [
        {"name": name, "shape": [None, *leaf_shape(leaf)], "dtype": leaf_dtype(leaf).name}
        for name, leaf in observation_leaves(space)
    ]


def flatten_step(space: spaces.Space, honor_start: bool = True) -> dict:
    """The ``flatten`` step of RLlib's preprocessors / FlattenObservations.

    Args:
        space: The space being flattened.
        honor_start: Whether one-hot indices are shifted by Discrete /
            MultiDiscrete ``start`` (gymnasium's flatten, the old stack) or not
            (the new stack's FlattenObservations one-hots the raw value).
    """
    leaves = []
    for _, leaf in observation_leaves(space):
        if isinstance(leaf, spaces.Box):
            leaves.append({"kind": "box"})
        elif isinstance(leaf, spaces.Discrete):
            start = int(leaf.start) if honor_start else 0
            leaves.append({"kind": "onehot", "sizes": [int(leaf.n)], "starts": [start]})
        elif isinstance(leaf, spaces.MultiDiscrete):
            sizes = [int(n) for n in np.asarray(leaf.nvec).reshape(-1)]
            starts = (
                [int(s) for s in np.asarray(leaf.start).reshape(-1)]
                if honor_start
                else [0] * len(sizes)
            )
            leaves.append({"kind": "multi_onehot", "sizes": sizes, "starts": starts})
        elif isinstance(leaf, spaces.MultiBinary):
            leaves.append({"kind": "binary"})
        else:
            raise ObservationError(f"cannot flatten a {type(leaf).__name__} observation")
    return {"op": "flatten", "leaves": leaves}


def mean_std_step(
    mean: Any, std: Any, demean: bool, destd: bool, clip: float | None, eps: float
) -> dict:
    """The ``mean_std`` step of RLlib's MeanStdFilter: ``(x - mean) / (std + eps)``, clipped."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    return {
        "op": "mean_std",
        "mean": (mean if demean else np.zeros_like(mean)).tolist(),
        "denom": (std + eps if destd else np.ones_like(std)).tolist(),
        "clip": float(clip) if clip else None,
    }


# ---------------------------------------------------------------- validation


def _fail(path: str, got: str, space: spaces.Space) -> ObservationError:
    return ObservationError(f"observation {path}: {got}; expected an element of {space}")


def _check_leaf(path: str, x: Any, space: spaces.Space, batched: bool) -> np.ndarray:
    """Validate one leaf (single value or batch) and return it as a typed array."""
    try:
        arr = np.asarray(x)
    except Exception as e:  # objects numpy cannot turn into an array
        raise _fail(path, f"cannot be read as an array ({e})", space) from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise _fail(path, f"has dtype {arr.dtype}, not a number", space)
    want = tuple(leaf_shape(space))
    got = arr.shape[1:] if batched else arr.shape
    if batched and arr.ndim == 0:
        raise _fail(path, "is a scalar where a batch was expected", space)
    if tuple(got) != want:
        raise _fail(path, f"has shape {tuple(got)}, not {want}", space)
    # The network's output on NaN or ±inf is NaN, never an action RLlib would take.
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        what = "NaN" if np.isnan(arr).any() else "+inf or -inf"
        raise _fail(path, f"contains {what} (observations must be finite)", space)
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        if arr.dtype.kind == "f" and not (
            np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        ):
            raise _fail(path, f"has non-integer values ({arr.dtype})", space)
        ints = arr.astype(np.int64)
        if isinstance(space, spaces.Discrete):
            low, high = int(space.start), int(space.start + space.n - 1)
        elif isinstance(space, spaces.MultiDiscrete):
            low = np.asarray(space.start)
            high = np.asarray(space.start) + np.asarray(space.nvec) - 1
        else:
            low, high = 0, 1
        if np.any(ints < low) or np.any(ints > high):
            raise _fail(path, "has values outside the space", space)
        return ints.astype(leaf_dtype(space))
    return arr.astype(leaf_dtype(space), copy=False)


def _split(path: str, obs: Any, space: spaces.Space, batched: bool) -> list[np.ndarray]:
    if isinstance(space, spaces.Dict):
        if not isinstance(obs, Mapping):
            raise _fail(path, f"is a {type(obs).__name__}, not a dict", space)
        keys, want = set(obs), set(space.spaces)
        if keys != want:
            missing = ", ".join(map(repr, sorted(want - keys))) or "none"
            extra = ", ".join(map(repr, sorted(map(str, keys - want)))) or "none"
            raise _fail(path, f"has wrong keys (missing: {missing}; unexpected: {extra})", space)
        out = []
        for key in sorted(space.spaces):
            out += _split(f"{path}.{key}", obs[key], space.spaces[key], batched)
        return out
    if isinstance(space, spaces.Tuple):
        if not isinstance(obs, Sequence) or isinstance(obs, (str, bytes)):
            raise _fail(path, f"is a {type(obs).__name__}, not a tuple", space)
        if len(obs) != len(space.spaces):
            raise _fail(path, f"has {len(obs)} items, not {len(space.spaces)}", space)
        out = []
        for i, (item, sub) in enumerate(zip(obs, space.spaces, strict=False)):
            out += _split(f"{path}.{i}", item, sub, batched)
        return out
    return [_check_leaf(path, obs, space, batched)]


def single_to_leaves(space: spaces.Space, obs: Any) -> list[np.ndarray]:
    """Validate one observation; return its leaves with a batch axis of 1.

    Raises:
        ObservationError: The observation is not an element of ``space``.
    """
    return [leaf[None, ...] for leaf in _split("obs", obs, space, batched=False)]


def batch_to_leaves(space: spaces.Space, batch: Any) -> list[np.ndarray]:
    """Validate a batch; return its leaves, each with the batch axis first.

    Args:
        space: The observation space.
        batch: A list of single observations, or one batched structure (an
            array with the batch axis first; for Dict / Tuple spaces a dict /
            tuple of such arrays).

    Raises:
        ObservationError: An observation is invalid or batch sizes differ.
    """
    if isinstance(batch, list):
        if not batch:
            # No observations: zero rows of each leaf, so the result is empty too.
            return [
                np.zeros((0, *leaf_shape(leaf)), leaf_dtype(leaf))
                for _, leaf in observation_leaves(space)
            ]
        singles = []
        for i, obs in enumerate(batch):
            try:
                singles.append(single_to_leaves(space, obs))
            except ObservationError as e:
                raise ObservationError(f"batch item {i}: {e}") from None
        leaves = [np.concatenate(parts, axis=0) for parts in zip(*singles, strict=False)]
    else:
        leaves = _split("obs", batch, space, batched=True)
        sizes = {leaf.shape[0] for leaf in leaves}
        if len(sizes) != 1:
            raise ObservationError(
                f"batch leaves have different batch sizes {sorted(sizes)}; expected one "
                f"batch of elements of {space}"
            )
    return leaves


# ------------------------------------------------------------- numpy steps


def apply_steps(steps: list[dict], leaves: list[np.ndarray]) -> np.ndarray:
    """Compute the network input from the leaves with numpy (:func:`.ops.preprocess`)."""
    from .ops import NUMPY, preprocess

    return preprocess(NUMPY, steps, list(leaves))
