"""Custom TensorFlow ModelV2s used by the TF tests (importable by Ray workers)."""

from __future__ import annotations

import numpy as np


def register() -> None:
    """Register the custom models with RLlib's ModelCatalog."""
    from ray.rllib.models import ModelCatalog

    ModelCatalog.register_custom_model("user_keras_model", UserKerasModel)
    ModelCatalog.register_custom_model("no_keras_model", NoKerasModel)


def _tf():
    from ray.rllib.utils.framework import try_import_tf

    return try_import_tf()[1]


try:
    from ray.rllib.models.tf.misc import normc_initializer
    from ray.rllib.models.tf.tf_modelv2 import TFModelV2
except ImportError:  # pragma: no cover - only without ray
    TFModelV2 = object


class UserKerasModel(TFModelV2):
    """The user's model from the story: a tf.keras.Model kept as self.base_model."""

    def __init__(self, obs_space, action_space, num_outputs, model_config, name):
        super().__init__(obs_space, action_space, num_outputs, model_config, name)
        tf = _tf()
        self.inputs = tf.keras.layers.Input(shape=obs_space.shape, name="observations")
        layer_1 = tf.keras.layers.Dense(
            32, name="my_layer1", activation=tf.nn.relu, kernel_initializer=normc_initializer(1.0)
        )(self.inputs)
        layer_out = tf.keras.layers.Dense(
            num_outputs, name="my_out", activation=None, kernel_initializer=normc_initializer(0.01)
        )(layer_1)
        value_out = tf.keras.layers.Dense(
            1, name="value_out", activation=None, kernel_initializer=normc_initializer(0.01)
        )(layer_1)
        self.base_model = tf.keras.Model(self.inputs, [layer_out, value_out])

    def forward(self, input_dict, state, seq_lens):
        model_out, self._value_out = self.base_model(input_dict["obs_flat"])
        return model_out, state

    def value_function(self):
        return _tf().reshape(self._value_out, [-1])


class NoKerasModel(TFModelV2):
    """A model made of raw variables and ops, with no Keras model inside."""

    def __init__(self, obs_space, action_space, num_outputs, model_config, name):
        super().__init__(obs_space, action_space, num_outputs, model_config, name)
        tf = _tf()
        size = int(np.prod(obs_space.shape))
        rng = np.random.default_rng(0)
        self.w = tf.Variable(rng.normal(0, 0.1, (size, 16)).astype(np.float32), name="w")
        self.w_out = tf.Variable(
            rng.normal(0, 0.01, (16, num_outputs)).astype(np.float32), name="w_out"
        )
        self.w_v = tf.Variable(rng.normal(0, 0.01, (16, 1)).astype(np.float32), name="w_v")

    def forward(self, input_dict, state, seq_lens):
        tf = _tf()
        h = tf.tanh(tf.matmul(tf.cast(input_dict["obs_flat"], tf.float32), self.w))
        self._value_out = tf.matmul(h, self.w_v)
        return tf.matmul(h, self.w_out), state

    def value_function(self):
        return _tf().reshape(self._value_out, [-1])

    def variables(self, as_dict=False):
        if as_dict:
            return {v.name: v for v in (self.w, self.w_out, self.w_v)}
        return [self.w, self.w_out, self.w_v]

    def trainable_variables(self, as_dict=False):
        return self.variables(as_dict)
