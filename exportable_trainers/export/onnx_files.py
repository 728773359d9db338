"""What every ONNX file gets, whichever framework wrote it: the opset asked for, int8
weights for ``onnx_int8``, its contract in ``metadata_props`` and onnx's full check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..contract.formats.onnx import METADATA_KEY
from ..exceptions import UnsupportedPolicyError


def default_opset(model: Any) -> int:
    """The model's default-domain (ai.onnx) opset."""
    return int(next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))


def to_opset(model: Any, opset: int | None, owner: str) -> Any:
    """``model`` at default-domain ``opset`` (onnx's version converter), or as it is for None.

    Args:
        model: The converted ModelProto.
        opset: The opset the run asked for (``onnx_opset``), or None.
        owner: The policy, for the message.

    Raises:
        UnsupportedPolicyError: The converter cannot bring the graph to ``opset``.
    """
    if opset is None or default_opset(model) == opset:
        return model
    import onnx
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(model, opset)
    except Exception:
        # The converter has no down-adapter for some ops that did not change
        # meaning (Identity 16 -> 15); graphs rarely need those nodes at all.
        try:
            converted = version_converter.convert_version(_without_identities(model), opset)
        except Exception as exc:
            raise UnsupportedPolicyError(
                f"{owner}: its ONNX graph (opset {default_opset(model)}) cannot be converted "
                f"to onnx_opset={opset}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
    onnx.checker.check_model(converted)
    return converted


def _without_identities(model: Any) -> Any:
    """``model`` with its redundant Identity nodes removed (onnx_ir's pass)."""
    import onnx_ir as ir
    from onnx_ir.passes.common import IdentityEliminationPass

    graph = ir.serde.deserialize_model(model)
    IdentityEliminationPass()(graph)
    return ir.serde.serialize_model(graph)


def quantize_int8(model: Any, path: Path) -> dict[str, Any]:
    """Write ``model`` with int8 weights: onnxruntime's dynamic quantization, per channel.

    Dynamic quantization needs no calibration data and uses only standard ONNX
    operators (DynamicQuantizeLinear, MatMulInteger), so the file runs wherever
    the float graph does.
    """
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .graph_common import quiet

    with quiet("onnxruntime", "root"):
        quantize_dynamic(model, str(path), weight_type=QuantType.QInt8, per_channel=True)
    return {"quantization": f"onnxruntime {onnxruntime.__version__} dynamic, int8 per channel"}


def seal(path: Path, contract: dict[str, Any]) -> dict[str, Any]:
    """Embed ``contract`` in the ONNX file's ``metadata_props`` and check the file fully.

    Args:
        path: The written ``.onnx`` file (rewritten in place).
        contract: Everything a loader needs to run the file alone (a manifest
            whose ``files`` names only this file, without its sha256).

    Raises:
        onnx.checker.ValidationError: The file fails ``check_model(full_check=True)``.
    """
    import onnx

    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    # Sorted keys: the manifest gains keys in the order formats are written.
    model.metadata_props.add(
        key=METADATA_KEY, value=json.dumps(contract, allow_nan=False, sort_keys=True)
    )
    onnx.checker.check_model(model, full_check=True)
    path.write_bytes(model.SerializeToString())
    return {"checked": "onnx.checker.check_model(full_check=True)", "opset": default_opset(model)}
