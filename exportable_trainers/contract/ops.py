"""The preprocessing and action operations, each defined once for numpy, torch and TF.

An operation is written once against a small :class:`Backend` (the handful
of array primitives it needs); the loader runs it with :data:`NUMPY`, the torch
graph with :class:`TorchBackend` and the TF graph with :class:`TfBackend`, so
the three forms cannot drift apart. What a step or action leaf *is* (the dicts
these functions read) is defined in :mod:`.observations` and :mod:`.actions`.

Constants (MeanStdFilter statistics, action bounds) reach an operation through
``constant(name, value)``: numpy passes the value, torch a registered buffer,
TF a constant or a variable, so that weights and statistics stay where each
framework keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..exceptions import ManifestError

Constant = Callable[[str, np.ndarray], Any]


def _width(shape: Sequence[Any]) -> int:
    """Elements per row: the product of every axis after the batch axis (all known)."""
    return int(np.prod([int(d) for d in shape[1:]]))


class Backend:
    """The array primitives the operations use; numpy's (the loader's) by default."""

    def float32(self, x: Any) -> Any:
        """``x`` as float32."""
        return np.asarray(x, np.float32)

    def cast(self, x: Any, dtype: str) -> Any:
        """``x`` as the numpy-named dtype."""
        return np.asarray(x).astype(dtype, copy=False)

    def cast_like(self, x: Any, like: Any) -> Any:
        """``x`` in the dtype of ``like``."""
        return np.asarray(x).astype(np.asarray(like).dtype, copy=False)

    def rows(self, x: Any, width: int | None = None) -> Any:
        """``x`` as a [batch, width] matrix (width: everything after the batch axis)."""
        x = np.asarray(x)
        # Spelled out, not -1: a batch of zero rows has no size to infer it from.
        return x.reshape(x.shape[0], _width(x.shape) if width is None else width)

    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        """``x`` as [batch, *shape]."""
        return np.reshape(x, (np.shape(x)[0], *shape))

    def one_hot(self, index: Any, n: int) -> Any:
        """float32 one-hot rows of length ``n`` for a batch of indices."""
        return np.eye(n, dtype=np.float32)[np.asarray(index, np.int64)]

    def concat(self, xs: list[Any]) -> Any:
        """Concatenate along the last axis."""
        return np.concatenate(xs, axis=-1)

    def clip(self, x: Any, low: Any, high: Any) -> Any:
        """Clip elementwise into [low, high]."""
        return np.clip(x, low, high)

    def int64(self, x: Any) -> Any:
        """``x`` as int64."""
        return np.asarray(x).astype(np.int64)


NUMPY = Backend()


class TorchBackend(Backend):
    """The primitives as torch ops (traced into TorchScript and ONNX).

    Stateless (torch is imported per call, a dict lookup once loaded), so that
    graphs holding a backend can be deep-copied and pickled.
    """

    DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")

    def float32(self, x: Any) -> Any:
        import torch

        return x.to(torch.float32)

    def cast(self, x: Any, dtype: str) -> Any:
        import torch

        return x.to(getattr(torch, dtype))

    def cast_like(self, x: Any, like: Any) -> Any:
        return x.to(like.dtype)

    def rows(self, x: Any, width: int | None = None) -> Any:
        return x.reshape(x.shape[0], _width(x.shape) if width is None else width)

    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        return x.reshape([x.shape[0], *shape])

    def one_hot(self, index: Any, n: int) -> Any:
        import torch

        return torch.nn.functional.one_hot(index, n).to(torch.float32)

    def concat(self, xs: list[Any]) -> Any:
        import torch

        return torch.cat(xs, dim=-1)

    def clip(self, x: Any, low: Any, high: Any) -> Any:
        import torch

        return torch.clamp(x, low, high)

    def int64(self, x: Any) -> Any:
        import torch

        return x.to(torch.int64)


class TfBackend(Backend):
    """The primitives as TensorFlow ops (tf1 graphs and tf2 functions alike); stateless."""

    def float32(self, x: Any) -> Any:
        import tensorflow as tf

        return tf.cast(x, tf.float32)

    def cast(self, x: Any, dtype: str) -> Any:
        import tensorflow as tf

        return tf.cast(x, tf.as_dtype(dtype))

    def cast_like(self, x: Any, like: Any) -> Any:
        import tensorflow as tf

        return tf.cast(x, like.dtype)

    def rows(self, x: Any, width: int | None = None) -> Any:
        import tensorflow as tf

        # The batch axis is the only unknown one: TF needs the width spelled out.
        return tf.reshape(x, [-1, _width(x.shape) if width is None else width])

    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        import tensorflow as tf

        return tf.reshape(x, [-1, *shape])

    def one_hot(self, index: Any, n: int) -> Any:
        import tensorflow as tf

        return tf.one_hot(index, n, dtype=tf.float32)

    def concat(self, xs: list[Any]) -> Any:
        import tensorflow as tf

        return tf.concat(xs, axis=-1)

    def clip(self, x: Any, low: Any, high: Any) -> Any:
        import tensorflow as tf

        return tf.clip_by_value(x, low, high)

    def int64(self, x: Any) -> Any:
        import tensorflow as tf

        return tf.cast(x, tf.int64)


def _values(constant: Constant | None) -> Constant:
    return constant if constant is not None else (lambda name, value: value)


# ------------------------------------------------------------ observations


def encode_leaf(b: Backend, x: Any, leaf: dict) -> Any:
    """One observation leaf as float32 rows: a Box / MultiBinary flattened, a
    Discrete / MultiDiscrete one-hot (index shifted by ``starts``), like RLlib's flattening.

    Args:
        b: The backend.
        x: The leaf, batch axis first.
        leaf: One leaf of a ``flatten`` step (``kind``, ``sizes``, ``starts``).
    """
    kind = leaf["kind"]
    if kind in ("box", "binary"):
        return b.float32(b.rows(x))
    if kind in ("onehot", "multi_onehot"):
        sizes, starts = leaf["sizes"], leaf["starts"]
        index = b.int64(b.rows(x, len(sizes)))
        return b.concat(
            [b.one_hot(index[:, j] - int(s), int(n)) for j, (n, s) in enumerate(zip(sizes, starts))]
        )
    raise ManifestError(
        f"unknown flatten leaf kind {kind!r}; known: box, binary, onehot, multi_onehot"
    )


def flatten(b: Backend, leaves: list[Any], step: dict) -> Any:
    """A ``flatten`` step: every leaf encoded, concatenated into one float32 vector."""
    return b.concat([encode_leaf(b, x, leaf) for x, leaf in zip(leaves, step["leaves"])])


def mean_std(b: Backend, x: Any, mean: Any, denom: Any, clip: float | None) -> Any:
    """A ``mean_std`` step (RLlib's MeanStdFilter): ``(x - mean) / denom``, clipped to ±clip."""
    x = (b.float32(x) - mean) / denom
    return b.clip(x, -float(clip), float(clip)) if clip else x


def mean_std_arrays(step: dict) -> tuple[np.ndarray, np.ndarray]:
    """(mean, denom) of a ``mean_std`` step as float32 arrays."""
    return np.asarray(step["mean"], np.float32), np.asarray(step["denom"], np.float32)


# The preprocessing steps a manifest may name, in the order preprocess() knows them.
STEPS = ("flatten", "mean_std")


def preprocess(
    b: Backend, steps: list[dict], leaves: list[Any], constant: Constant | None = None
) -> Any:
    """The network input from the observation leaves: the manifest's steps in order.

    Args:
        b: The backend.
        steps: The manifest's ``preprocessing`` steps.
        leaves: One array per observation leaf, batch axis first.
        constant: ``constant(name, value)`` gives step ``i``'s statistics
            (``mean_{i}``, ``denom_{i}``) in the backend's form; numpy by default.

    Raises:
        ManifestError: An unknown step, or steps that do not end in one array.
    """
    constant = _values(constant)
    state = list(leaves)
    for i, step in enumerate(steps):
        op = step.get("op")
        if op == "flatten":
            state = [flatten(b, state, step)]
        elif op == "mean_std":
            if len(state) != 1:
                raise ManifestError("a mean_std step needs a single (flattened) observation")
            mean, denom = mean_std_arrays(step)
            x = mean_std(
                b,
                state[0],
                constant(f"mean_{i}", mean),
                constant(f"denom_{i}", denom),
                step.get("clip"),
            )
            state = [x]
        else:
            raise ManifestError(f"unknown preprocessing step {op!r}; known: {', '.join(STEPS)}")
    if len(state) != 1:
        raise ManifestError("several observation leaves but no flatten step")
    return state[0]


# ----------------------------------------------------------------- actions

POSTPROCESS = ("none", "unsquash", "shift", "clip")


def bound(values: Any, shape: Sequence[int]) -> np.ndarray:
    """An action bound stored flat (or as one number) in the leaf's per-sample shape."""
    flat = np.asarray(values, np.float32).reshape(-1)
    if flat.size == 1:
        return flat.reshape(())
    if flat.size == int(np.prod(shape)):
        return flat.reshape(list(shape))
    return flat


def action_bounds(leaf: dict) -> dict[str, np.ndarray]:
    """``{"low", "high"}`` of a leaf's postprocess step (zeros where it has none)."""
    post = leaf.get("postprocess", {"kind": "none"})
    shape = [int(d) for d in leaf.get("shape") or []]
    return {name: bound(post.get(name, [0.0]), shape) for name in ("low", "high")}


def finish_action(b: Backend, a: Any, leaf: dict, constant: Constant | None = None) -> Any:
    """RLlib's unsquash / clip of one batched action leaf, its shape and its dtype.

    Mirrors ``unsquash_action`` / ``clip_action`` in ray.rllib.utils.spaces.space_utils.

    Args:
        b: The backend.
        a: The leaf's actions, batch axis first.
        leaf: The action spec's leaf (``dtype``, ``shape``, ``postprocess``).
        constant: ``constant(name, value)`` gives ``low`` / ``high`` in the
            backend's form; numpy by default.

    Raises:
        ManifestError: An unknown postprocess kind.
    """
    constant = _values(constant)
    kind = leaf.get("postprocess", {"kind": "none"}).get("kind", "none")
    bounds = action_bounds(leaf)
    shape = [int(d) for d in leaf.get("shape") or []]
    if shape:  # the bounds are in the leaf's shape; numpy heads give flat rows
        a = b.reshape(a, shape)
    if kind == "unsquash":
        low, high = constant("low", bounds["low"]), constant("high", bounds["high"])
        a = b.clip(low + (b.float32(a) + 1.0) * (high - low) / 2.0, low, high)
    elif kind == "clip":
        low, high = constant("low", bounds["low"]), constant("high", bounds["high"])
        a = b.clip(a, b.cast_like(low, a), b.cast_like(high, a))
    elif kind == "shift":
        a = a + b.cast_like(constant("low", bounds["low"]), a)
    elif kind != "none":
        raise ManifestError(f"unknown action postprocess {kind!r}; known: {', '.join(POSTPROCESS)}")
    return b.cast(a, leaf.get("dtype", "float32"))
