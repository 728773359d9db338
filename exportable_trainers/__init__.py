"""Export every RLlib checkpoint's policies to framework-native formats; load them without Ray.

Importing this package loads neither Ray nor any deep-learning framework:
``make_exporting`` / ``ExportingMixin`` import Ray when used, and
``load_policy`` imports only the runtime of the format it loads.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .exceptions import (
    ArtifactLoadError,
    ExportableTrainersError,
    ExportFailedError,
    ExportNotFoundError,
    IntegrityError,
    InvalidOptionError,
    ManifestError,
    MissingRuntimeError,
    ObservationError,
    PolicySelectionError,
    TensorFlowSetupError,
    UnsupportedPolicyError,
    VerificationError,
)
from .export.options import ExportOptions

if TYPE_CHECKING:
    from .export.factory import make_exporting
    from .export.mixin import ExportingMixin
    from .load.comparison import Comparison, StageComparison, compare_exports
    from .load.listing import CheckpointExports, PolicyExport, list_exports
    from .load.loader import ExportedPolicy, load_policy

_LAZY = {
    "make_exporting": "export.factory",
    "ExportingMixin": "export.mixin",
    "load_policy": "load.loader",
    "ExportedPolicy": "load.loader",
    "list_exports": "load.listing",
    "CheckpointExports": "load.listing",
    "PolicyExport": "load.listing",
    "compare_exports": "load.comparison",
    "Comparison": "load.comparison",
    "StageComparison": "load.comparison",
}

__all__ = [
    "ArtifactLoadError",
    "CheckpointExports",
    "Comparison",
    "ExportFailedError",
    "ExportNotFoundError",
    "ExportOptions",
    "ExportableTrainersError",
    "ExportedPolicy",
    "ExportingMixin",
    "IntegrityError",
    "InvalidOptionError",
    "ManifestError",
    "MissingRuntimeError",
    "ObservationError",
    "PolicyExport",
    "PolicySelectionError",
    "StageComparison",
    "TensorFlowSetupError",
    "UnsupportedPolicyError",
    "VerificationError",
    "__version__",
    "compare_exports",
    "list_exports",
    "load_policy",
    "make_exporting",
]


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Serve 0.1's module names from their new homes.

    Checkpoints pickle the exporting class and its TF setup hook by module
    path, so a checkpoint written by 0.1 names ``exportable_trainers.factory``.
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        new = _MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: Any) -> Any:
        return importlib.import_module(self.new)

    def exec_module(self, module: Any) -> None:
        """The module was executed under its new name."""


_MOVED = {
    f"{__name__}.{old}": f"{__name__}.{new}"
    for old, new in (
        ("factory", "export.factory"),
        ("mixin", "export.mixin"),
        ("tf_setup", "export.tf.setup"),
    )
}
sys.meta_path.insert(0, _MovedModuleFinder())


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
