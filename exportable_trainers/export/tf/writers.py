"""Writers shared by the tf1 and tf2 exporters.

Both exporters reduce a policy step to a frozen GraphDef (weights as
constants); SavedModel and ONNX are written from it. The Keras formats are
written from the ModelV2's Keras model with its weights. All writing happens
under eager execution, also in tf1 processes (where RLlib disables it
globally), via TensorFlow's eager_mode context.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ...exceptions import InvalidOptionError
from ...load.runtimes._tf_eager import eager
from ..graph_common import quiet

ONNX_OPSET = 17


def _quiet():
    return quiet("tf2onnx", "tensorflow")


@dataclass
class FrozenStep:
    """One policy step as a frozen graph.

    Args:
        graph_def: GraphDef with the weights as constants.
        inputs: (public name, tensor name in graph_def, per-sample shape, dtype).
        outputs: (public name, tensor name in graph_def).
        variables: Names of the Const nodes that hold variable values (weights,
            statistics), the only values that change between checkpoints.
        samples: Example inputs by public name (set by the exporter).
    """

    graph_def: Any
    inputs: list[tuple[str, str, list[int], str]]
    outputs: list[tuple[str, str]]
    variables: list[str] = field(default_factory=list)
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    _function: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # A policy trained on a GPU pins ops to it; exports must run anywhere.
        for node in self.graph_def.node:
            node.device = ""
        for function in self.graph_def.library.function:
            for node in function.node_def:
                node.device = ""

    def function(self) -> Any:
        """A callable of the graph (call under :func:`eager`); built once per step."""
        if self._function is None:
            graph_def = self.graph_def
            wrapped = tf.compat.v1.wrap_function(
                lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []
            )
            self._function = wrapped.prune(
                [t for _, t, _, _ in self.inputs], [t for _, t in self.outputs]
            )
        return self._function

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by public name for inputs by public name."""
        with eager():
            outs = self.function()(*[tf.constant(feeds[name]) for name, _, _, _ in self.inputs])
        return {name: out.numpy() for (name, _), out in zip(self.outputs, outs)}


def write_savedmodel(step: FrozenStep, path: Path) -> dict[str, Any]:
    """A TF2 SavedModel whose 'serving_default' signature maps public names to public names."""
    with eager(), _quiet():
        fn = step.function()
        specs = [
            tf.TensorSpec([None, *shape], tf.as_dtype(dtype), name=_signature_name(name))
            for name, _, shape, dtype in step.inputs
        ]

        @tf.function(input_signature=specs, autograph=False)
        def serving_default(*args: tf.Tensor) -> dict[str, tf.Tensor]:
            return {name: tf.identity(out) for (name, _), out in zip(step.outputs, fn(*args))}

        module = tf.Module()
        module.step = fn
        tf.saved_model.save(
            module,
            str(path),
            signatures={"serving_default": serving_default.get_concrete_function()},
        )
    return {
        "signature": "serving_default",
        "input_keys": {name: _signature_name(name) for name, _, _, _ in step.inputs},
    }


def _signature_name(name: str) -> str:
    # Signature input keys must be valid Python identifiers.
    return name.replace(".", "__")


def write_onnx(
    step: FrozenStep, path: Path, cache: dict[str, Any] | None = None, opset: int | None = None
) -> dict[str, Any]:
    """ONNX via tf2onnx (see :func:`convert_onnx`), written to ``path``."""
    model, record = convert_onnx(step, cache, opset)
    path.write_bytes(model.SerializeToString())
    return record


def convert_onnx(
    step: FrozenStep, cache: dict[str, Any] | None = None, opset: int | None = None
) -> tuple[Any, dict[str, Any]]:
    """(ModelProto, manifest facts) via tf2onnx, with the public input / output names and
    a dynamic batch axis; the graph holds only what ``step.outputs`` need.

    Args:
        step: The frozen policy step.
        cache: Kept between checkpoints: when the graph has the same structure as
            last time, the converted model is reused with the new weights
            (see :class:`~.tf_templates.OnnxConstTemplate`).
        opset: The default-domain opset to target; None: ``ONNX_OPSET``.
    """
    import tf2onnx

    from .templates import OnnxConstTemplate, structure_digest

    opset = opset or ONNX_OPSET
    renames = {t: name for name, t, _, _ in step.inputs} | {t: name for name, t in step.outputs}

    def convert(graph_def: Any) -> Any:
        with eager(), _quiet():
            model, _ = tf2onnx.convert.from_graph_def(
                graph_def,
                input_names=[t for _, t, _, _ in step.inputs],
                output_names=[t for _, t in step.outputs],
                opset=opset,
            )
        _rename_io(model, renames)
        return model

    cache = {} if cache is None else cache
    key = structure_digest(step.graph_def, step.variables, (step.inputs, step.outputs, opset))
    entry = cache.get("onnx_template")
    reused = entry is not None and entry[0] == key and entry[1] is not None
    if reused:
        model = entry[1].render(step.graph_def)
    else:
        template = None
        if entry is None or entry[0] != key:
            # Probed once per structure; None remembers that this graph cannot be reused.
            template = OnnxConstTemplate.probe(
                step.graph_def, step.variables, convert, step.samples
            )
            cache["onnx_template"] = (key, template)
        model = template.render(step.graph_def) if template else convert(step.graph_def)
    opset_done = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return model, {
        "opset": int(opset_done),
        "converter": f"tf2onnx {tf2onnx.__version__}",
        "graph_reused": reused,
    }


def _rename_io(model: Any, renames: dict[str, str]) -> None:
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        if value.name in renames:
            value.name = renames[value.name]
            dims = value.type.tensor_type.shape.dim
            if dims:
                dims[0].dim_param = "batch"
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
        for i, name in enumerate(node.output):
            if name in renames:
                node.output[i] = renames[name]


# --------------------------------------------------------------- Keras formats


def find_keras_model(model_v2: Any, policy_id: str) -> Any:
    """The tf_keras Model a TFModelV2 keeps as an attribute (``base_model`` first).

    Raises:
        InvalidOptionError: None, or several without a ``base_model``.
    """
    import tf_keras

    found = {k: v for k, v in vars(model_v2).items() if isinstance(v, tf_keras.Model)}
    if "base_model" in found:
        return found["base_model"]
    if len(found) == 1:
        return next(iter(found.values()))
    name = f"{type(model_v2).__module__}.{type(model_v2).__qualname__}"
    if not found:
        raise InvalidOptionError(
            f"policy {policy_id!r}: model {name} holds no Keras model (a tf.keras.Model "
            "attribute such as self.base_model), so 'h5' and 'keras' cannot be written; "
            "'savedmodel' and 'onnx' still can"
        )
    raise InvalidOptionError(
        f"policy {policy_id!r}: model {name} holds several Keras models ({', '.join(found)}); "
        "name the one that maps observations to outputs 'base_model'"
    )


def scrubbed_config(keras_model: Any) -> dict:
    """The model's config with initializers, regularizers and constraints replaced.

    They only matter for training; RLlib's own initializers (normc) are closures
    that no Keras loader can rebuild without custom_objects.
    """

    def scrub(obj: Any) -> Any:
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                if key.endswith("_initializer"):
                    out[key] = {"class_name": "Zeros", "config": {}}
                elif key.endswith(("_regularizer", "_constraint")):
                    out[key] = None
                else:
                    out[key] = scrub(value)
            return out
        if isinstance(obj, list):
            return [scrub(v) for v in obj]
        return obj

    return scrub(keras_model.get_config())


def _rebuild(
    model_class: Any, config: dict, weights: list[np.ndarray], why: str, advice: str
) -> Any:
    try:
        # Keras 3's from_config edits the dict it is given; each format gets its
        # own copy, so writing one never changes what the next one sees.
        model = model_class.from_config(copy.deepcopy(config))
    except (ValueError, TypeError, KeyError) as e:
        raise InvalidOptionError(f"{why} ({e}); {advice}") from None
    model.set_weights(weights)
    return model


def build_clean_tf_keras(config: dict, weights: list[np.ndarray], policy_id: str) -> Any:
    """A tf_keras Model of built-in layers from a scrubbed config (call under :func:`eager`)."""
    import tf_keras

    return _rebuild(
        tf_keras.Model,
        config,
        weights,
        f"policy {policy_id!r}: its Keras model cannot be rebuilt from built-in layers",
        "'h5' and 'keras' need models without custom layers",
    )


def write_h5(config: dict, weights: list[np.ndarray], path: Path, policy_id: str) -> dict[str, Any]:
    """A Keras 2 HDF5 file that tf_keras.models.load_model opens with no custom_objects."""
    with eager(), _quiet():
        build_clean_tf_keras(config, weights, policy_id).save(str(path), save_format="h5")
    return {"loader": "tf_keras.models.load_model"}


def write_keras3(
    config: dict, weights: list[np.ndarray], path: Path, policy_id: str
) -> dict[str, Any]:
    """A Keras 3 ``.keras`` file that keras.saving.load_model opens."""
    import keras

    with eager(), _quiet():
        why = f"policy {policy_id!r}: Keras 3 cannot rebuild its Keras model"
        _rebuild(keras.Model, config, weights, why, "use 'h5'").save(str(path))
    return {"loader": "keras.saving.load_model", "keras_version": keras.__version__}


def network_entry(
    config: dict,
    weights: list[np.ndarray],
    model_input: np.ndarray,
    reference: dict[str, np.ndarray],
    policy_id: str,
) -> dict:
    """Which Keras output is which raw output, found by running the rebuilt model.

    Args:
        config: Scrubbed Keras config.
        weights: Its weights.
        model_input: A batch of network inputs (preprocessed observations).
        reference: The policy's raw outputs on that batch.
        policy_id: For error messages.

    Raises:
        InvalidOptionError: No output equals the distribution inputs.
    """
    with eager(), _quiet():
        model = build_clean_tf_keras(config, weights, policy_id)
        if len(model.inputs) != 1:
            raise InvalidOptionError(
                f"policy {policy_id!r}: its Keras model has {len(model.inputs)} inputs; "
                "'h5' and 'keras' need one (the flattened observation)"
            )
        outs = model(model_input, training=False)
        outs = [o.numpy() for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
        input_name = model.inputs[0].name.split(":")[0]
    entries = []
    for i, out in enumerate(outs):
        name = f"output_{i}"
        for key, want in reference.items():
            if out.size == want.size and np.allclose(out.reshape(want.shape), want, atol=1e-5):
                name = key
                break
        entries.append(
            {"name": name, "index": i, "shape": [None, *reference.get(name, out).shape[1:]]}
        )
    if "action_dist_inputs" not in [e["name"] for e in entries]:
        raise InvalidOptionError(
            f"policy {policy_id!r}: no output of its Keras model equals the action distribution "
            "inputs (e.g. a free log-std is added outside it), so 'h5' and 'keras' cannot act; "
            "use 'savedmodel' or 'onnx'"
        )
    return {
        "inputs": [
            {"name": input_name, "shape": [None, *model_input.shape[1:]], "dtype": "float32"}
        ],
        "outputs": entries,
        "head": "action_dist_inputs",
    }
