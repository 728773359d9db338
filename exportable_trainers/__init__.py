"""Export every RLlib checkpoint's policies to framework-native formats; load them without Ray.

Importing this package loads neither Ray nor any deep-learning framework:
``make_exporting`` / ``ExportingMixin`` import Ray when used, and
``load_policy`` imports only the runtime of the format it loads.
"""

from __future__ import annotations

import importlib
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
from .options import ExportOptions

if TYPE_CHECKING:
    from .factory import make_exporting
    from .listing import list_exports
    from .loader import ExportedPolicy, load_policy
    from .mixin import ExportingMixin

_LAZY = {
    "make_exporting": "factory",
    "ExportingMixin": "mixin",
    "load_policy": "loader",
    "ExportedPolicy": "loader",
    "list_exports": "listing",
}

__all__ = [
    "ArtifactLoadError",
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
    "PolicySelectionError",
    "TensorFlowSetupError",
    "UnsupportedPolicyError",
    "VerificationError",
    "__version__",
    "list_exports",
    "load_policy",
    "make_exporting",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
