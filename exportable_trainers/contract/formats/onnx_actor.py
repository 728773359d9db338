"""onnx_actor: the acting graph alone, raw observation (+ state) in, action (+ state) out."""

from __future__ import annotations

from .onnx import FORMAT as ONNX
from .onnx import onnx_card

# fmt: off
FORMAT = ONNX.variant(
    name="onnx_actor", path="actor.onnx", acting_only=True, preference=5,
    description="ONNX graph of acting only: no value branch, no distribution inputs",
    card=onnx_card("ONNX, acting only (onnxruntime)", "The action (and next state) alone."),
)
# fmt: on
