"""Runtimes that execute an exported artifact, one module per format.

Each module exposes ``load(path, manifest) -> runner`` where ``runner.run(feeds)``
maps input names to numpy arrays and returns output names to numpy arrays
(``runner.run(feeds, outputs)``: only those outputs).
Frameworks are imported only inside ``load``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ...exceptions import ArtifactLoadError, ExportableTrainersError, MissingRuntimeError


class Runner(Protocol):
    """A loaded artifact."""

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> dict[str, Any]:
        """Run on named numpy inputs; return the named numpy outputs (default: all)."""


@dataclass(frozen=True)
class RuntimeInfo:
    """How to run one format.

    Args:
        fmt: Format name.
        module: Module of this package that loads it.
        package: Import name of the runtime it needs.
        extra: The pip extra of exportable_trainers that installs the runtime.
        loader: Name of the loading function in ``module``.
    """

    fmt: str
    module: str
    package: str
    extra: str
    loader: str = "load"


RUNTIMES = {
    r.fmt: r
    for r in (
        RuntimeInfo("onnx", "onnx", "onnxruntime", "onnx"),
        RuntimeInfo("torchscript", "torchscript", "torch", "torch"),
        RuntimeInfo("savedmodel", "savedmodel", "tensorflow", "tf"),
        RuntimeInfo("h5", "keras_models", "tf_keras", "tf", "load_h5"),
        RuntimeInfo("keras", "keras_models", "keras", "tf", "load_keras3"),
    )
}

# load_policy's choice when no format is given: the lightest installed runtime first.
PREFERENCE = ("onnx", "torchscript", "savedmodel", "h5", "keras")


def is_installed(fmt: str) -> bool:
    """Whether the runtime for ``fmt`` can be imported (without importing it)."""
    info = RUNTIMES.get(fmt)
    return info is not None and importlib.util.find_spec(info.package) is not None


def load_runner(fmt: str, path: Path, manifest: dict) -> Runner:
    """Load an artifact with its runtime.

    Raises:
        MissingRuntimeError: The runtime is not installed (names the extra).
        ArtifactLoadError: The runtime cannot open the file.
        KeyError: ``fmt`` has no runtime.
    """
    info = RUNTIMES[fmt]
    if not is_installed(fmt):
        raise MissingRuntimeError(
            f"format {fmt!r} needs {info.package}, which is not installed; "
            f"pip install 'exportable_trainers[{info.extra}]'"
        )
    module = importlib.import_module(f"{__name__}.{info.module}")
    try:
        return getattr(module, info.loader)(path, manifest)
    except ExportableTrainersError:
        raise
    except Exception as e:
        raise ArtifactLoadError(
            f"{info.package} cannot open {path} ({fmt}): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
