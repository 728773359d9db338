"""Reuse a converted TensorFlow graph at later checkpoints by replacing its weights.

A frozen policy step keeps each variable it read (weights, preprocessing
statistics) as a ``Const`` node named after the variable. Between two
checkpoints only those values change, so converting the graph again (tf2onnx)
would rebuild the same ONNX graph around new numbers. :class:`OnnxConstTemplate`
converts once and afterwards only writes the new values into the initializers.

Which initializer holds which variable is found by value, not by name: the
graph is converted with random values in every variable constant, and each
initializer equal to one of them is a copy of that variable. tf2onnx
simplifies graphs by value (an all-zero bias is dropped, equal constants are
merged), so random values give the general graph. A variable that reached the
file in another form as well (transposed, folded with another constant) would
stay stale; so the template is accepted only if, filled with a second set of
random values, it computes what converting that second graph computes. If not,
the converter simply runs at every checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import tensorflow as tf


def variable_constants(graph_def: Any, names: Iterable[str]) -> dict[str, Any]:
    """The top-level ``Const`` nodes of a GraphDef among ``names`` (name -> mutable NodeDef)."""
    wanted = set(names)
    return {n.name: n for n in graph_def.node if n.op == "Const" and n.name in wanted}


def constant_values(graph_def: Any, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Values of :func:`variable_constants`."""
    return {
        name: tf.make_ndarray(node.attr["value"].tensor)
        for name, node in variable_constants(graph_def, names).items()
    }


def structure_digest(graph_def: Any, names: Iterable[str], signature: Any) -> str:
    """A digest of the graph except the values of the variable constants ``names``.

    Args:
        graph_def: A frozen GraphDef.
        names: Its Const nodes that hold variable values.
        signature: Anything else the converted graph depends on (names, opset), via repr.
    """
    bare = type(graph_def)()
    bare.CopyFrom(graph_def)
    for node in variable_constants(bare, names).values():
        tensor = node.attr["value"].tensor
        for field in (
            "tensor_content",
            "half_val",
            "float_val",
            "double_val",
            "int_val",
            "int64_val",
        ):
            tensor.ClearField(field)
    digest = hashlib.sha256(bare.SerializeToString(deterministic=True))
    digest.update(repr(sorted(names)).encode())
    digest.update(repr(signature).encode())
    return digest.hexdigest()


def with_random_constants(
    graph_def: Any, names: Iterable[str], seed: int
) -> tuple[Any, dict[str, np.ndarray]]:
    """A copy of the GraphDef whose variable constants hold random values."""
    rng = np.random.default_rng(seed)
    copy = type(graph_def)()
    copy.CopyFrom(graph_def)
    values = {}
    for name, node in variable_constants(copy, names).items():
        old = tf.make_ndarray(node.attr["value"].tensor)
        # Away from 0 and 1 so that no value looks like an identity to the optimizer.
        magnitude = rng.uniform(0.25, 0.75, old.shape) * rng.choice([-1, 1], old.shape)
        new = (magnitude if old.dtype.kind == "f" else rng.integers(2, 2**30, old.shape)).astype(
            old.dtype
        )
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(new))
        values[name] = new
    return copy, values


def _outputs(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    from ...load.runtimes.onnx import OnnxRunner

    return list(OnnxRunner(model.SerializeToString()).run(feeds).values())


class OnnxConstTemplate:
    """A converted ONNX model plus which initializer copies which variable constant.

    Args:
        model: The ModelProto converted from a randomised copy of the graph.
        sources: Initializer name -> name of the variable constant it copies.
    """

    def __init__(self, model: Any, sources: dict[str, str]) -> None:
        self.model = model
        self.sources = sources

    @classmethod
    def probe(
        cls,
        graph_def: Any,
        names: list[str],
        convert: Callable[[Any], Any],
        feeds: dict[str, np.ndarray],
    ) -> OnnxConstTemplate | None:
        """Convert two randomised copies, map initializers to variables and check, or None.

        Args:
            graph_def: The frozen graph of this checkpoint.
            names: Its Const nodes that hold variable values.
            convert: GraphDef -> ONNX ModelProto (the converter as used for real).
            feeds: Example inputs of the ONNX model, by input name.
        """
        if not names:
            return None
        first, first_values = with_random_constants(graph_def, names, 1)
        second, second_values = with_random_constants(graph_def, names, 2)
        try:
            a, b = convert(first), convert(second)
        except Exception:  # an odd graph just keeps being converted at every checkpoint
            return None
        from onnx import numpy_helper

        by_bytes = {(v.dtype.str, v.shape, v.tobytes()): name for name, v in first_values.items()}
        sources = {}
        for init in a.graph.initializer:
            value = numpy_helper.to_array(init)
            name = by_bytes.get((value.dtype.str, value.shape, value.tobytes()))
            if name is not None:
                sources[init.name] = name
        if not sources:
            return None
        template = cls(a, sources)
        try:
            got = _outputs(template.fill(second_values), feeds)
            want = _outputs(b, feeds)
        except Exception:  # no onnxruntime, or a graph it cannot run: no reuse
            return None
        same = len(got) == len(want) and all(
            g.shape == w.shape and np.allclose(g, w, rtol=1e-5, atol=1e-6)
            for g, w in zip(got, want)
        )
        return template if same else None

    def fill(self, values: dict[str, np.ndarray]) -> Any:
        """The ModelProto with each copied variable set from ``values`` (by const name)."""
        from ..graph_common import replace_initializers

        return replace_initializers(
            self.model, {init: values[source] for init, source in self.sources.items()}
        )

    def render(self, graph_def: Any) -> Any:
        """The ModelProto holding the variable values of ``graph_def``.

        ``graph_def`` must have the :func:`structure_digest` of the probed graph.
        """
        return self.fill(constant_values(graph_def, set(self.sources.values())))
