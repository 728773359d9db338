"""ONNX: the whole policy as one graph, run by ONNX Runtime."""

from __future__ import annotations

from .examples import example_feeds, names
from .spec import Format, Runtime


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: inputs, outputs, opset and an onnxruntime snippet."""
    return [
        "## ONNX (onnxruntime)",
        "",
        f"Inputs {names(manifest['inputs'])}; outputs {names(manifest['outputs'])}; "
        f"opset {record.get('opset')}.",
        "",
        "```python",
        "import numpy as np, onnxruntime as ort",
        f'session = ort.InferenceSession("{record["path"]}", providers=["CPUExecutionProvider"])',
        f"outputs = session.run(None, {example_feeds(manifest)})",
        "```",
    ]


FORMAT = Format(
    name="onnx",
    path="model.onnx",
    description="ONNX graph: raw observations in, action and raw outputs out",
    written_by={"torch": "write_onnx", "tf": "write_onnx", "tf2": "write_onnx"},
    whole_policy=True,
    runtime=Runtime("onnxruntime", "onnx", "exportable_trainers.load.runtimes.onnx:load"),
    verify="outputs",
    card=card,
    default_for=frozenset({"torch", "tf", "tf2"}),
    preference=0,
)
