"""onnx_int8: the acting graph with int8 weights (onnxruntime.quantization), judged on agreement."""

from __future__ import annotations

from .onnx import RUNTIME, SEAL, onnx_card
from .spec import MIN_AGREEMENT, Format

FORMAT = Format(
    name="onnx_int8",
    path="actor.int8.onnx",
    description=(
        "onnx_actor with int8 weights (dynamic quantization), kept only when at least "
        f"{MIN_AGREEMENT:.0%} of its actions agree with the policy's"
    ),
    written_by={"torch": "write_onnx_int8", "tf": "write_onnx_int8", "tf2": "write_onnx_int8"},
    whole_policy=True,
    runtime=RUNTIME,
    verify="agreement",
    card=onnx_card(
        "ONNX, acting only, int8 weights (onnxruntime)",
        "The action (and next state) with int8 weights; see `action_agreement` in manifest.json.",
    ),
    preference=6,
    acting_only=True,
    sealed_by=SEAL,
)
