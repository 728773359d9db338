"""TensorFlow exporters: the tf1 session path and the tf2 eager path (old API stack).

Both turn one policy step into a frozen graph (see tf_writers.FrozenStep):

* tf1 (``framework="tf"``): the export ops are added once to the policy's own
  graph (cached per policy) and frozen from the policy's own session at every
  checkpoint, so the trained values are what gets saved.
* tf2 (``framework="tf2"``, with or without eager_tracing): a tf.function over
  the live model, traced and frozen once per policy (see Tf2Trace); later
  checkpoints write the current variable values into the frozen graph.

At later checkpoints the ONNX conversion is reused too (see tf_templates).
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ...contract.formats import FORMATS
from ...contract.observations import (
    apply_steps,
    batch_to_leaves,
    leaf_dtype,
    leaf_shape,
    observation_leaves,
)
from ...contract.ops import mean_std_arrays
from ...contract.recurrent import input_name, output_name
from ...exceptions import InvalidOptionError, UnsupportedPolicyError
from ..framework_exporter import FrameworkExporter
from ..graph_common import structure_key
from .graph import policy_step
from .writers import (
    FrozenStep,
    convert_onnx,
    find_keras_model,
    network_entry,
    scrubbed_config,
    write_h5,
    write_keras3,
    write_onnx,
    write_savedmodel,
)

SCOPE = "exportable_trainers"
SAMPLES = 3


class TfExporter(FrameworkExporter):
    """What the tf1 and tf2 paths share: signature, writers, Keras formats."""

    def __init__(self, target: Any, cache: dict[str, Any], options: Any = None) -> None:
        super().__init__(target, cache, options)
        space = target.observation_space
        leaves = observation_leaves(space)
        self.leaf_sizes = [max(1, int(np.prod(leaf_shape(leaf)))) for _, leaf in leaves]
        self.inputs = [(name, leaf_shape(leaf), leaf_dtype(leaf).name) for name, leaf in leaves] + [
            (input_name(s["key"]), list(s["shape"]), s["dtype"]) for s in target.state
        ]
        self.n_leaves = len(leaves)
        self.output_names = [*target.action_names, *target.raw_outputs] + [
            output_name(s["key"]) for s in target.state
        ]
        self.step = self._freeze()
        samples = [space.sample() for _ in range(SAMPLES)]
        self._sample_leaves = batch_to_leaves(space, samples)
        feeds = dict(zip([n for n, _, _ in self.inputs], self._sample_leaves))
        for s in target.state:
            feeds[input_name(s["key"])] = np.repeat(
                np.asarray(s["initial"], s["dtype"])[None], SAMPLES, 0
            )
        self.step.samples = feeds
        self._sample_out = self.step.run(feeds)
        self._keras: tuple[dict, list, dict] | None = None

    def _freeze(self) -> FrozenStep:
        raise NotImplementedError

    def _statistics(self) -> dict[str, np.ndarray]:
        """Current preprocessing statistics, named as policy_step's variables."""
        current = {}
        for i, step in enumerate(self.target.preprocessing):
            if step["op"] == "mean_std":
                mean, denom = mean_std_arrays(step)
                current[f"mean_{i}"], current[f"denom_{i}"] = mean, denom
        return current

    def _keras_weights(self, keras_model: Any) -> list[np.ndarray]:
        raise NotImplementedError

    def outputs(self) -> list[dict]:
        return [
            {
                "name": n,
                "shape": [None, *self._sample_out[n].shape[1:]],
                "dtype": self._sample_out[n].dtype.name,
            }
            for n in self.output_names
        ]

    def _keras_bundle(self) -> tuple[dict, list, dict]:
        """(scrubbed config, weights, manifest network entry) of the policy's Keras model."""
        if self._keras is None:
            action = self.target.action
            if action.get("distribution") is None or len(action["leaves"]) != 1:
                from ...contract.actions import KINDS

                raise UnsupportedPolicyError(
                    f"{self.target.owner}: 'h5' and 'keras' hold only the network, and the "
                    "loader computes the action from its outputs with numpy, which knows "
                    f"single-leaf {', '.join(KINDS)} heads; action distribution "
                    f"{action['rllib_class']} has no numpy form: use 'savedmodel' or 'onnx'"
                )
            if self.target.state:
                raise InvalidOptionError(
                    f"policy {self.target.policy_id!r}: recurrent policies cannot be written as "
                    "'h5' or 'keras' (their state handling lives outside the Keras model); use "
                    "'savedmodel' or 'onnx'"
                )
            keras_model = find_keras_model(self.target.policy.model, self.target.policy_id)
            config = scrubbed_config(keras_model)
            weights = self._keras_weights(keras_model)
            # Which output is which depends on the architecture only: found once.
            config_key = json.dumps(config, sort_keys=True, default=str)
            cached = self.cache.get("keras_entry")
            if cached is None or cached[0] != config_key:
                model_input = apply_steps(self.target.preprocessing, self._sample_leaves)
                reference = {k: self._sample_out[k] for k in self.target.raw_outputs}
                entry = network_entry(
                    config,
                    weights,
                    model_input.astype(np.float32),
                    reference,
                    self.target.policy_id,
                )
                cached = (config_key, entry)
                self.cache["keras_entry"] = cached
            self._keras = (config, weights, cached[1])
        return self._keras

    def check(self, formats: tuple[str, ...]) -> None:
        # TF's network-only formats are the Keras files, which need the Keras model.
        if any(not FORMATS[f].whole_policy for f in formats):
            self._keras_bundle()

    def network(self) -> dict | None:
        # Only asked for once an h5 / keras file is written, so the bundle exists.
        return self._keras_bundle()[2]

    def write_savedmodel(self, path: Path) -> dict[str, Any]:
        """The policy step as a SavedModel signature."""
        return write_savedmodel(self.step, path)

    def write_onnx(self, path: Path) -> dict[str, Any]:
        """The policy step converted by tf2onnx."""
        return write_onnx(self.step, path, self.cache, self.options.onnx_opset)

    def _actor_onnx(self) -> tuple[Any, dict[str, Any]]:
        # tf2onnx keeps only the nodes the named outputs need: no value branch.
        acting = set(self.acting_names)
        step = dataclasses.replace(
            self.step, outputs=[o for o in self.step.outputs if o[0] in acting]
        )
        return convert_onnx(step, self.cache.setdefault("actor", {}), self.options.onnx_opset)

    def write_h5(self, path: Path) -> dict[str, Any]:
        """The policy network as a Keras 2 HDF5 file."""
        config, weights, _ = self._keras_bundle()
        return write_h5(config, weights, path, self.target.policy_id)

    def write_keras(self, path: Path) -> dict[str, Any]:
        """The policy network as a Keras 3 file."""
        config, weights, _ = self._keras_bundle()
        return write_keras3(config, weights, path, self.target.policy_id)


class Tf2Trace:
    """The traced policy step of one tf2 model, kept between checkpoints.

    Tracing and freezing cost more than everything else a later checkpoint
    writes, and only the variable values change between checkpoints: frozen
    once, the graph's weight constants are refreshed from the variables.

    Args:
        concrete: The step's ConcreteFunction (reads the live variables).
        statistics: Preprocessing statistics as variables, by name.
    """

    def __init__(self, concrete: Any, statistics: dict[str, tf.Variable]) -> None:
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2,
        )

        self.concrete = concrete
        self.statistics = statistics
        # Keep functional control flow (an LSTM's While loop) as tf2onnx expects it;
        # lowering it to v1 Enter/Exit ops makes tf2onnx write invalid tensors.
        self._convert = lambda: convert_variables_to_constants_v2(
            concrete, lower_control_flow=False, aggressive_inlining=True
        )
        frozen = self._convert()
        self.graph_def = frozen.graph.as_graph_def()
        self.inputs = [t.name for t in frozen.inputs]
        self.outputs = [t.name for t in frozen.outputs]
        variables = {id(v.handle): v for v in concrete.graph.variables}
        # The converter turns each captured variable into a Const named after the
        # capture's placeholder, at the top level of the graph.
        self.variables = {
            internal.op.name: variables[id(external)]
            for external, internal in concrete.graph.captures
            if id(external) in variables
        }
        self.refreshable = self._refreshable()

    def _refreshable(self) -> bool:
        """Whether the frozen graph can be refreshed from the variables without converting.

        Graphs with functions (an LSTM's loop body) are converted every time,
        to be safe against a variable read inside a function.
        """
        if self.graph_def.library.function:
            return False
        consts = {n.name: n for n in self.graph_def.node if n.op == "Const"}
        for name, variable in self.variables.items():
            node = consts.get(name)
            if node is None or not np.array_equal(
                tf.make_ndarray(node.attr["value"].tensor), variable.numpy()
            ):
                return False
        return True

    def freeze(self, statistics: dict[str, np.ndarray]) -> Any:
        """The frozen GraphDef with the current variable values."""
        for name, value in statistics.items():
            self.statistics[name].assign(value)
        if not self.refreshable:
            return self._convert().graph.as_graph_def()
        graph_def = type(self.graph_def)()
        graph_def.CopyFrom(self.graph_def)
        for node in graph_def.node:
            variable = self.variables.get(node.name)
            if variable is not None:
                node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(variable.numpy()))
        return graph_def


class Tf2Exporter(TfExporter):
    """framework="tf2": trace the live model in a tf.function, freeze its variables."""

    framework = ("tf2",)

    def _trace(self) -> Tf2Trace:
        model, target = self.target.policy.model, self.target
        specs = [
            tf.TensorSpec([None, *shape], tf.as_dtype(dtype)) for _, shape, dtype in self.inputs
        ]
        # Created before tracing (tf.function may trace twice); captured like the
        # model's own variables, so later checkpoints only assign new values.
        statistics = {
            name: tf.Variable(value, trainable=False, name=name)
            for name, value in self._statistics().items()
        }

        def variable(name: str, value: np.ndarray) -> tf.Variable:
            return statistics[name]

        # autograph=False: the step is plain graph code (it also runs in tf1 graph
        # mode), and transpiling RLlib's model code costs seconds per trace.
        @tf.function(input_signature=specs, autograph=False)
        def step(*args: tf.Tensor) -> list[tf.Tensor]:
            return policy_step(
                model,
                target,
                list(args[: self.n_leaves]),
                list(args[self.n_leaves :]),
                variable,
            )

        return Tf2Trace(step.get_concrete_function(), statistics)

    def _freeze(self) -> FrozenStep:
        model = self.target.policy.model
        key = structure_key(self.target, self.inputs, self.output_names, self.leaf_sizes)
        cached = self.cache.get("tf2_trace")
        if cached is None or cached[0] != key or cached[1]() is not model:
            cached = (key, weakref.ref(model), self._trace())
            self.cache["tf2_trace"] = cached
        trace = cached[2]
        return FrozenStep(
            trace.freeze(self._statistics()),
            [(name, t, shape, dtype) for (name, shape, dtype), t in zip(self.inputs, trace.inputs)],
            list(zip(self.output_names, trace.outputs)),
            list(trace.variables),
        )

    def _keras_weights(self, keras_model: Any) -> list[np.ndarray]:
        return [np.asarray(w) for w in keras_model.get_weights()]


class Tf1Exporter(TfExporter):
    """framework="tf": export ops in the policy's graph, frozen from its session."""

    framework = ("tf",)

    def _graph_ops(self) -> tuple[list[str], list[str]]:
        """Placeholder and output op names in the policy graph (built once per graph).

        Built once so the policy's graph does not grow with every checkpoint.
        Preprocessing statistics, which change between checkpoints, are
        variables of the export scope, loaded with the current values before
        each freeze.
        """
        policy = self.target.policy
        session = policy.get_session()
        graph = session.graph
        cached = self.cache.get("tf1_ops")
        if cached is None or cached[0] is not graph:
            tf1 = tf.compat.v1
            statistics: dict[str, Any] = {}

            def variable(name: str, value: np.ndarray) -> Any:
                statistics[name] = tf1.Variable(value, trainable=False, name=name)
                return statistics[name]

            # The policy's own variable scope (RLlib builds each policy under its
            # id), so models that call get_variable in forward() find their variables.
            with (
                graph.as_default(),
                tf1.variable_scope(
                    self.target.policy_id, reuse=tf1.AUTO_REUSE, auxiliary_name_scope=False
                ),
                tf1.name_scope(None),
                tf1.name_scope(SCOPE + "/"),
            ):
                placeholders = [
                    tf1.placeholder(
                        tf.as_dtype(dtype), [None, *shape], name=name.replace(".", "__")
                    )
                    for name, shape, dtype in self.inputs
                ]
                outs = policy_step(
                    policy.model,
                    self.target,
                    placeholders[: self.n_leaves],
                    placeholders[self.n_leaves :],
                    variable,
                )
                named = [
                    tf.identity(t, name=n.replace(".", "__"))
                    for t, n in zip(outs, self.output_names)
                ]
                if statistics:
                    session.run(tf1.variables_initializer(list(statistics.values())))
            cached = (
                graph,
                [p.op.name for p in placeholders],
                [t.op.name for t in named],
                statistics,
            )
            self.cache["tf1_ops"] = cached
        _, inputs, outputs, statistics = cached
        current = self._statistics()
        for name, var in statistics.items():
            var.load(current[name], session)
        return inputs, outputs

    def _freeze(self) -> FrozenStep:
        session = self.target.policy.get_session()
        inputs, outputs = self._graph_ops()
        with session.graph.as_default():
            graph_def = tf.compat.v1.graph_util.convert_variables_to_constants(
                session, session.graph.as_graph_def(), outputs
            )
            # The converter names each variable's Const after the variable.
            variables = [v.op.name for v in tf.compat.v1.global_variables()]
        return FrozenStep(
            graph_def,
            [
                (name, op + ":0", shape, dtype)
                for (name, shape, dtype), op in zip(self.inputs, inputs)
            ],
            [(name, op + ":0") for name, op in zip(self.output_names, outputs)],
            variables,
        )

    def _keras_weights(self, keras_model: Any) -> list[np.ndarray]:
        return list(self.target.policy.get_session().run(keras_model.weights))
