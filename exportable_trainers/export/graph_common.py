"""What torch and TensorFlow exporters share: constants from step data, quiet converters."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Silence a converter's progress prints, its log lines and deprecation chatter."""
    muted = [logging.getLogger(name) for name in loggers]
    levels = [log.level for log in muted]
    for log in muted:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(muted, levels):
            log.setLevel(level)


def replace_initializers(model: Any, arrays: dict[str, np.ndarray]) -> Any:
    """A copy of an ONNX ModelProto with the named initializers set to new values.

    Args:
        model: The converted ModelProto (left unchanged).
        arrays: Initializer name -> value (same shape and dtype as the initializer).
    """
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for init in out.graph.initializer:
        if init.name in arrays:
            init.CopyFrom(numpy_helper.from_array(np.asarray(arrays[init.name]), init.name))
    return out


def structure_key(target: Any, inputs: Any, *extra: Any) -> str:
    """Everything a policy graph's structure depends on, but not the values.

    Args:
        target: The PolicyTarget (preprocessing statistics are left out).
        inputs: The graph's input names / shapes.
        extra: What else the framework's graph depends on (e.g. parameter shapes).
    """
    steps = [
        {k: v for k, v in step.items() if k not in ("mean", "denom")}
        for step in target.preprocessing
    ]
    return json.dumps(
        [
            sorted(target.details.items()),
            steps,
            target.action,
            inputs,
            target.raw_outputs,
            *extra,
        ],
        sort_keys=True,
        default=str,
    )
