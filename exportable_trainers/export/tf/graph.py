"""TensorFlow ops for one policy step: raw observation leaves in, action and raw outputs out.

Works in both graph mode (the tf1 session path) and inside ``tf.function``
(the tf2 eager path); the preprocessing and action operations are contract/ops.py's.
The action is RLlib's own code, traced: the policy's
``dist_class(inputs, model).deterministic_sample()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ...contract.ops import TfBackend, finish_action, preprocess
from ...exceptions import InvalidOptionError


def _constant(name: str, value: np.ndarray) -> tf.Tensor:
    return tf.constant(value, name=name)


def encode_observation(
    leaves: list[tf.Tensor],
    steps: list[dict],
    constant: Callable[[str, np.ndarray], Any] = _constant,
) -> tf.Tensor:
    """The network input from the observation leaves: the TF form of
    :func:`exportable_trainers.contract.ops.preprocess`.

    Args:
        leaves: One tensor per observation leaf, batch axis first.
        steps: The target's preprocessing steps.
        constant: Makes the tensor holding a preprocessing statistic from its
            name and value; the tf1 path passes variables so that later
            checkpoints can load new statistics into the same graph.
    """
    return preprocess(TfBackend(), steps, list(leaves), constant)


def finish_actions(actions: list[tf.Tensor], leaves: list[dict]) -> list[tf.Tensor]:
    """RLlib's NormalizeAndClipActions on each action leaf, then its dtype: the TF
    form of :func:`exportable_trainers.contract.ops.finish_action`."""
    backend = TfBackend()
    return [
        finish_action(backend, a, leaf, lambda name, value: tf.constant(value))
        for a, leaf in zip(actions, leaves)
    ]


def policy_step(
    model: Any,
    target: Any,
    leaves: list[tf.Tensor],
    states: list[tf.Tensor],
    constant: Callable[[str, np.ndarray], Any] = _constant,
) -> list[tf.Tensor]:
    """(action leaves..., raw outputs..., next state...) of an old-stack TFModelV2 for one step."""
    x = encode_observation(leaves, target.preprocessing, constant)
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
