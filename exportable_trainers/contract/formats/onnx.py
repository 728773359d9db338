"""ONNX: the whole policy as one graph, run by ONNX Runtime (and any ONNX runtime)."""

from __future__ import annotations

from collections.abc import Callable

from .cards import example_feeds, names, section
from .spec import ANY_FRAMEWORK, Format, Runtime

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
        text = (
            f"{what} Inputs {names(manifest['inputs'])}; outputs "
            f"{', '.join(f'`{o}`' for o in outputs)}; opset {record.get('opset')}. "
            f"The file carries its own contract (metadata key `{METADATA_KEY}`)."
        )
        code = [
            "import numpy as np, onnxruntime as ort",
            f'session = ort.InferenceSession("{record["path"]}", providers=["CPUExecutionProvider"])',
            f"outputs = session.run(None, {example_feeds(manifest)})",
        ]
        return section(title, text, code)

    return card


# fmt: off
FORMAT = Format(
    name="onnx", path="model.onnx", frameworks=ANY_FRAMEWORK, default_for=ANY_FRAMEWORK,
    description="ONNX graph: raw observations in, action and raw outputs out",
    runtime=RUNTIME, sealed_by=SEAL, preference=0,
    card=onnx_card("ONNX (onnxruntime)", "The whole policy step."),
)
# fmt: on
