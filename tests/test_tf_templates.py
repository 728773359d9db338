"""Reusing a tf2onnx conversion with new weights (export/tf/templates.py), without Ray."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_tf
ATOL = 1e-6


def _frozen(weights: list[np.ndarray], fold: bool = False):
    """(GraphDef, variable const names, input, output) of x -> tanh(x W1 + b1) W2 + b2."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    variables = [tf.Variable(w) for w in weights]

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def step(x):
        w1, b1, w2, b2 = variables
        hidden = tf.tanh(tf.matmul(x, w1) + b1)
        # fold=True: a weight enters the graph only through an op on constants,
        # which tf2onnx folds into one new initializer.
        return tf.matmul(hidden, w2 * 2.0 if fold else w2) + b2

    concrete = step.get_concrete_function()
    names = [internal.op.name for _, internal in concrete.graph.captures]
    frozen = convert_variables_to_constants_v2(concrete)
    return frozen.graph.as_graph_def(), names, frozen.inputs[0].name, frozen.outputs[0].name


def _weights(seed: int, zero_bias: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(3, 8), (8,), (8, 2), (2,)]
    out = [rng.normal(size=s).astype(np.float32) for s in shapes]
    if zero_bias:
        out[1][:] = 0.0
        out[3][:] = 0.0
    return out


def _converter(inputs: str, outputs: str):
    import tf2onnx

    def convert(graph_def):
        model, _ = tf2onnx.convert.from_graph_def(
            graph_def, input_names=[inputs], output_names=[outputs], opset=17
        )
        return model

    return convert


def _run(model, inputs: str, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {inputs: x})[0]


def test_rendered_model_equals_a_fresh_conversion_of_new_weights():
    from exportable_trainers.export.tf.templates import OnnxConstTemplate, structure_digest

    # Zero biases at the first checkpoint: tf2onnx would drop their Add ops if it
    # saw these values; the template must still carry them for later weights.
    first, names, inputs, outputs = _frozen(_weights(0, zero_bias=True))
    convert = _converter(inputs, outputs)
    x = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    template = OnnxConstTemplate.probe(first, names, convert, {inputs: x})
    assert template is not None
    assert len(template.sources) == 4  # every weight is a verbatim initializer

    later, later_names, _, _ = _frozen(_weights(1))
    assert structure_digest(later, later_names, "io") == structure_digest(first, names, "io")
    rendered = _run(template.render(later), inputs, x)
    fresh = _run(convert(later), inputs, x)
    np.testing.assert_allclose(rendered, fresh, atol=ATOL)
    np.testing.assert_allclose(
        _run(template.render(first), inputs, x), _run(convert(first), inputs, x), atol=ATOL
    )


def test_a_weight_folded_by_the_converter_disables_the_template():
    from exportable_trainers.export.tf.templates import OnnxConstTemplate

    graph_def, names, inputs, outputs = _frozen(_weights(0), fold=True)
    x = np.ones((2, 3), np.float32)
    assert (
        OnnxConstTemplate.probe(graph_def, names, _converter(inputs, outputs), {inputs: x}) is None
    )


def test_structure_digest_ignores_values_but_not_structure():
    from exportable_trainers.export.tf.templates import structure_digest

    plain, names, _, _ = _frozen(_weights(0))
    other_values, _, _, _ = _frozen(_weights(3))
    folded, _, _, _ = _frozen(_weights(0), fold=True)
    assert structure_digest(plain, names, 1) == structure_digest(other_values, names, 1)
    assert structure_digest(plain, names, 1) != structure_digest(folded, names, 1)
    assert structure_digest(plain, names, 1) != structure_digest(plain, names, 2)
    # A constant that is not a variable (here: none named) keeps its value in the digest.
    assert structure_digest(plain, [], 1) != structure_digest(other_values, [], 1)
