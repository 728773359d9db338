"""TensorFlow ops for one policy step: raw observation leaves in, action and raw outputs out.

Works in both graph mode (the tf1 session path) and inside ``tf.function``
(the tf2 eager path); mirrors export/torch/graph.py and contract/observations.apply_steps.
The action is RLlib's own code, traced: the policy's
``dist_class(inputs, model).deterministic_sample()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ...exceptions import InvalidOptionError
from ..graph_common import leaf_encoders, mean_std_constants


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


_TF_DTYPES = {
    "float16": tf.float16,
    "float32": tf.float32,
    "float64": tf.float64,
    "int8": tf.int8,
    "int16": tf.int16,
    "int32": tf.int32,
    "int64": tf.int64,
    "uint8": tf.uint8,
    "bool": tf.bool,
}


def finish_actions(actions: list[tf.Tensor], leaves: list[dict]) -> list[tf.Tensor]:
    """RLlib's NormalizeAndClipActions on each action leaf, then its dtype.

    The TF form of :func:`exportable_trainers.contract.actions.finish_leaf`.
    """
    out = []
    for a, leaf in zip(actions, leaves):
        post = leaf.get("postprocess", {"kind": "none"})
        shape = [int(d) for d in leaf.get("shape") or []]
        kind = post["kind"]

        def bound(name: str, post: dict = post, shape: list = shape) -> tf.Tensor:
            values = np.asarray(post[name], np.float32).reshape(-1)
            if values.size == int(np.prod(shape)) and values.size > 1:
                values = values.reshape(shape)
            return tf.constant(values.reshape(()) if values.size == 1 else values)

        if kind in ("unsquash", "clip"):
            low, high = bound("low"), bound("high")
            if kind == "unsquash":
                a = low + (tf.cast(a, tf.float32) + 1.0) * (high - low) / 2.0
            a = tf.clip_by_value(a, tf.cast(low, a.dtype), tf.cast(high, a.dtype))
        elif kind == "shift":
            a = a + tf.cast(bound("low"), a.dtype)
        if shape:
            a = tf.reshape(a, [-1, *shape])
        dtype = _TF_DTYPES.get(leaf["dtype"])
        if dtype is None:
            raise InvalidOptionError(f"action {leaf['name']}: unsupported dtype {leaf['dtype']}")
        out.append(tf.cast(a, dtype))
    return out


def policy_step(
    model: Any,
    target: Any,
    leaves: list[tf.Tensor],
    states: list[tf.Tensor],
    leaf_sizes: list[int],
    constant: Callable[[str, np.ndarray], Any] = _constant,
) -> list[tf.Tensor]:
    """(action leaves..., raw outputs..., next state...) of an old-stack TFModelV2 for one step."""
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
    # RLlib's own explore=False action: the distribution's deterministic sample.
    import tree

    dist = target.dist_class(dist_inputs, model)
    actions = tree.flatten(dist.deterministic_sample())
    outputs = finish_actions(actions, target.action["leaves"])
    for name in target.raw_outputs:
        if name == "action_dist_inputs":
            outputs.append(tf.identity(dist_inputs))
        elif name == "vf_preds":
            outputs.append(tf.reshape(model.value_function(), [-1]))
        else:
            raise InvalidOptionError(f"unknown raw output {name!r}")
    return outputs + list(state_out[: len(states)])
