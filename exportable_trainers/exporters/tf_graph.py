"""TensorFlow ops for one policy step: raw observation leaves in, action and raw outputs out.

Works in both graph mode (the tf1 session path) and inside ``tf.function``
(the tf2 eager path); mirrors exporters/torch_graph.py and preprocess.apply_steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..exceptions import InvalidOptionError
from .graph_common import leaf_encoders, mean_std_constants


def _encode_leaf(
    x: tf.Tensor, kind: str, sizes: list[int], starts: list[int], size: int
) -> tf.Tensor:
    if kind in ("box", "binary"):
        return tf.reshape(tf.cast(x, tf.float32), [-1, size])
    idx = tf.reshape(tf.cast(x, tf.int64), [-1, len(sizes)])
    parts = [
        tf.one_hot(idx[:, j] - start, n, dtype=tf.float32)
        for j, (n, start) in enumerate(zip(sizes, starts))
    ]
    return tf.concat(parts, axis=-1)


def _constant(name: str, value: np.ndarray) -> tf.Tensor:
    return tf.constant(value, name=name)


def encode_observation(
    leaves: list[tf.Tensor],
    steps: list[dict],
    leaf_sizes: list[int],
    constant: Callable[[str, np.ndarray], Any] = _constant,
) -> tf.Tensor:
    """The network input from the observation leaves.

    Args:
        leaves: One tensor per observation leaf, batch axis first.
        steps: The target's preprocessing steps.
        leaf_sizes: Number of scalars per sample in each leaf.
        constant: Makes the tensor holding a preprocessing statistic from its
            name and value; the tf1 path passes variables so that later
            checkpoints can load new statistics into the same graph.
    """
    state = list(leaves)
    for i, step in enumerate(steps):
        if step["op"] == "flatten":
            state = [
                tf.concat(
                    [
                        _encode_leaf(x, kind, sizes, starts, size)
                        for x, (kind, sizes, starts), size in zip(
                            state, leaf_encoders(step), leaf_sizes
                        )
                    ],
                    axis=-1,
                )
            ]
        elif step["op"] == "mean_std":
            mean, denom, clip = mean_std_constants(step)
            x = (tf.cast(state[0], tf.float32) - constant(f"mean_{i}", mean)) / constant(
                f"denom_{i}", denom
            )
            if clip:
                x = tf.clip_by_value(x, -float(clip), float(clip))
            state = [x]
        else:
            raise InvalidOptionError(f"unknown preprocessing step {step['op']!r}")
    if len(state) != 1:
        raise InvalidOptionError("several observation leaves need a 'flatten' step")
    return state[0]


def action_head(x: tf.Tensor, spec: dict) -> tf.Tensor:
    """RLlib's deterministic action from distribution inputs, then unsquash / clip."""
    kind = spec["distribution"]
    if kind == "categorical":
        a = tf.argmax(x, axis=-1)
    elif kind == "multi_categorical":
        parts = tf.split(x, spec["input_lens"], axis=-1)
        a = tf.stack([tf.argmax(p, axis=-1) for p in parts], axis=-1)
    elif kind in ("diag_gaussian", "squashed_gaussian"):
        a = tf.split(x, 2, axis=-1)[0]
        if spec.get("squash"):
            low, high = float(spec["low"]), float(spec["high"])
            a = ((tf.tanh(a) + 1.0) / 2.0) * (high - low) + low
            a = tf.clip_by_value(a, low, high)
    elif kind in ("deterministic", "direct"):
        a = x
    else:
        raise InvalidOptionError(f"unknown action distribution {kind!r}")
    post = spec.get("postprocess", {"kind": "none"})
    if post["kind"] in ("unsquash", "clip"):
        low = tf.constant(np.asarray(post["low"], np.float32))
        high = tf.constant(np.asarray(post["high"], np.float32))
        if post["kind"] == "unsquash":
            a = low + (a + 1.0) * (high - low) / 2.0
        a = tf.clip_by_value(a, low, high)
    elif post["kind"] == "shift":
        a = a + tf.cast(tf.constant(np.asarray(post["low"])), a.dtype)
    shape = spec.get("shape") or []
    if shape:
        a = tf.reshape(a, [-1, *shape])
    return tf.cast(a, tf.int64 if spec.get("dtype", "float32").startswith("int") else tf.float32)


def policy_step(
    model: Any,
    target: Any,
    leaves: list[tf.Tensor],
    states: list[tf.Tensor],
    leaf_sizes: list[int],
    constant: Callable[[str, np.ndarray], Any] = _constant,
) -> list[tf.Tensor]:
    """(action, raw outputs..., next state...) of an old-stack TFModelV2 for one step."""
    x = encode_observation(leaves, target.preprocessing, leaf_sizes, constant)
    input_dict = {"obs": x, "obs_flat": x, "is_training": False}
    if states:
        # One time step per sequence: RLlib adds the time axis from seq_lens' shape.
        seq_lens = tf.ones([tf.shape(x)[0]], dtype=tf.int32)
        dist_inputs, state_out = model(input_dict, list(states), seq_lens)
    else:
        dist_inputs, state_out = model(input_dict, [], None)
    if hasattr(model, "get_action_model_outputs"):
        # SAC-style models return an embedding; the policy head is separate.
        dist_inputs, _ = model.get_action_model_outputs(dist_inputs)
    outputs = [action_head(dist_inputs, target.action)]
    for name in target.raw_outputs:
        if name == "action_dist_inputs":
            outputs.append(tf.identity(dist_inputs))
        elif name == "vf_preds":
            outputs.append(tf.reshape(model.value_function(), [-1]))
        else:
            raise InvalidOptionError(f"unknown raw output {name!r}")
    return outputs + list(state_out[: len(states)])
