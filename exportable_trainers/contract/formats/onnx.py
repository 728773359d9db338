"""ONNX: the whole policy as one graph, run by ONNX Runtime (and any ONNX runtime)."""

from __future__ import annotations

from collections.abc import Callable

from .examples import example_feeds, names
from .spec import Format, Runtime

# The metadata_props key of every ONNX file that holds its contract (a JSON manifest).
METADATA_KEY = "exportable_trainers.manifest"
SEAL = "exportable_trainers.export.onnx_files:seal"
RUNTIME = Runtime("onnxruntime", "onnx", "exportable_trainers.load.runtimes.onnx:load")


def onnx_card(title: str, what: str) -> Callable[[dict, dict], list[str]]:
    """The README section of one ONNX format: inputs, outputs, opset and an onnxruntime snippet.

    Args:
        title: The section heading.
        what: One sentence on what the graph computes.
    """

    def card(record: dict, manifest: dict) -> list[str]:
        outputs = record.get("outputs") or [o["name"] for o in manifest["outputs"]]
        return [
            f"## {title}",
            "",
            f"{what} Inputs {names(manifest['inputs'])}; outputs "
            f"{', '.join(f'`{o}`' for o in outputs)}; opset {record.get('opset')}. "
            f"The file carries its own contract (metadata key `{METADATA_KEY}`).",
            "",
            "```python",
            "import numpy as np, onnxruntime as ort",
            f'session = ort.InferenceSession("{record["path"]}", providers=["CPUExecutionProvider"])',
            f"outputs = session.run(None, {example_feeds(manifest)})",
            "```",
        ]

    return card


FORMAT = Format(
    name="onnx",
    path="model.onnx",
    description="ONNX graph: raw observations in, action and raw outputs out",
    written_by={"torch": "write_onnx", "tf": "write_onnx", "tf2": "write_onnx"},
    whole_policy=True,
    runtime=RUNTIME,
    verify="outputs",
    card=onnx_card("ONNX (onnxruntime)", "The whole policy step."),
    default_for=frozenset({"torch", "tf", "tf2"}),
    preference=0,
    sealed_by=SEAL,
)
