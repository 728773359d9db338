"""Runtimes that execute an exported artifact, one module per format.

Each format's :class:`~exportable_trainers.contract.formats.Runtime` names its
loader, ``load(path, manifest, fmt) -> runner``, where ``runner.run(feeds)``
maps input names to numpy arrays and returns output names to numpy arrays
(``runner.run(feeds, outputs)``: only those outputs).
Frameworks are imported only inside ``load``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Protocol

from ...contract.formats import FORMATS
from ...exceptions import ArtifactLoadError, ExportableTrainersError, MissingRuntimeError


class Runner(Protocol):
    """A loaded artifact."""

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> dict[str, Any]:
        """Run on named numpy inputs; return the named numpy outputs (default: all)."""


def is_installed(fmt: str) -> bool:
    """Whether the runtime for ``fmt`` can be imported (without importing it)."""
    runtime = FORMATS[fmt].runtime if fmt in FORMATS else None
    return runtime is not None and importlib.util.find_spec(runtime.package) is not None


def install_hint(fmt: str) -> str:
    """``onnx needs onnxruntime (pip install ...)``: what loading ``fmt`` needs."""
    runtime = FORMATS[fmt].runtime
    return f"{fmt} needs {runtime.package} (pip install 'exportable_trainers[{runtime.extra}]')"


def load_runner(fmt: str, path: Path, manifest: dict) -> Runner:
    """Load an artifact with its runtime.

    Raises:
        MissingRuntimeError: The runtime is not installed (names the extra).
        ArtifactLoadError: The runtime cannot open the file.
        KeyError: ``fmt`` is not a registered format.
    """
    info = FORMATS[fmt].runtime
    if not is_installed(fmt):
        raise MissingRuntimeError(
            f"format {fmt!r} needs {info.package}, which is not installed; "
            f"pip install 'exportable_trainers[{info.extra}]'"
        )
    module, _, function = info.loader.partition(":")
    try:
        return getattr(importlib.import_module(module), function)(path, manifest, fmt)
    except ExportableTrainersError:
        raise
    except Exception as e:
        raise ArtifactLoadError(
            f"{info.package} cannot open {path} ({fmt}): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
