"""The framework exporters, registered by framework name.

Each entry names its exporter class as ``"module:Class"`` (relative to this
package) and is imported only when a policy of that framework is exported, so
that this registry imports no exporter and exporting a torch policy never
imports TensorFlow. Adding a framework: write a FrameworkExporter subclass in
its own sub-package and add one entry to ``FRAMEWORKS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidOptionError
from .framework_exporter import FrameworkExporter
from .options import ExportOptions
from .rllib.target import PolicyTarget


@dataclass(frozen=True)
class Framework:
    """How one RLlib framework path is exported.

    Args:
        name: RLlib's ``framework_str``: "torch", "tf" or "tf2".
        exporter: ``"module:Class"`` of its FrameworkExporter, relative to this package.
        prepare: ``"module:function"`` called (without arguments) before the
            exporter's module is imported, or None.
    """

    name: str
    exporter: str
    prepare: str | None = None


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("torch", ".torch.exporter:TorchExporter"),
        # TensorFlow must see TF_USE_LEGACY_KERAS before its first import.
        Framework("tf", ".tf.exporter:Tf1Exporter", prepare=".tf.setup:ensure_legacy_keras"),
        Framework("tf2", ".tf.exporter:Tf2Exporter", prepare=".tf.setup:ensure_legacy_keras"),
    )
}


def _resolve(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module, __package__), name)


def exporter_for(
    target: PolicyTarget, cache: dict[str, Any], options: ExportOptions | None = None
) -> FrameworkExporter:
    """The exporter of the target's framework path.

    Args:
        target: The policy to export.
        cache: The algorithm's cache that survives between checkpoints.
        options: The run's export options.

    Raises:
        InvalidOptionError: No exporter is registered for the target's framework.
    """
    framework = FRAMEWORKS.get(target.framework)
    if framework is None:
        raise InvalidOptionError(
            f"policy {target.policy_id!r}: framework {target.framework!r} has no exporter; "
            f"registered: {', '.join(sorted(FRAMEWORKS))}"
        )
    if framework.prepare is not None:
        _resolve(framework.prepare)()
    return _resolve(framework.exporter)(target, cache, options)
