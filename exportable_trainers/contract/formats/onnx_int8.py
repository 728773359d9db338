"""onnx_int8: the acting graph with int8 weights (onnxruntime.quantization), judged on agreement."""

from __future__ import annotations

from .onnx import onnx_card
from .onnx_actor import FORMAT as ONNX_ACTOR
from .spec import MIN_AGREEMENT

# fmt: off
FORMAT = ONNX_ACTOR.variant(
    name="onnx_int8", path="actor.int8.onnx", verify="agreement", preference=6,
    description=(
        "onnx_actor with int8 weights (dynamic quantization), kept only when at least "
        f"{MIN_AGREEMENT:.0%} of its actions agree with the policy's"
    ),
    card=onnx_card(
        "ONNX, acting only, int8 weights (onnxruntime)",
        "The action (and next state) with int8 weights; see `action_agreement` in manifest.json.",
    ),
)
# fmt: on
