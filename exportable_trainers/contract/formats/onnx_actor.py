"""onnx_actor: the acting graph alone, raw observation (+ state) in, action (+ state) out."""

from __future__ import annotations

from .onnx import RUNTIME, SEAL, onnx_card
from .spec import Format

FORMAT = Format(
    name="onnx_actor",
    path="actor.onnx",
    description="ONNX graph of acting only: no value branch, no distribution inputs",
    written_by={"torch": "write_onnx_actor", "tf": "write_onnx_actor", "tf2": "write_onnx_actor"},
    whole_policy=True,
    runtime=RUNTIME,
    verify="outputs",
    card=onnx_card("ONNX, acting only (onnxruntime)", "The action (and next state) alone."),
    preference=5,
    acting_only=True,
    sealed_by=SEAL,
)
