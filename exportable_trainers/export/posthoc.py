"""Exports added to checkpoints written earlier: what the CLI's ``export`` command runs."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..contract.formats import ALIASES
from ..exceptions import ExportableTrainersError
from ..load.listing import list_exports
from .options import ExportOptions


def check_rllib_checkpoint(checkpoint: Path) -> None:
    """Raise unless ``checkpoint`` is an RLlib checkpoint directory."""
    if not (checkpoint / "rllib_checkpoint.json").is_file():
        raise ExportableTrainersError(
            f"{checkpoint} is not an RLlib checkpoint (no rllib_checkpoint.json)"
        )


def _has(formats: list[str], name: str) -> bool:
    # An alias ("model") is present when the format it stands for is.
    return name in formats or (name in ALIASES and bool(set(ALIASES[name].values()) & set(formats)))


def plan_export(checkpoint: Path, options: ExportOptions, force: bool) -> ExportOptions | None:
    """The options to export ``checkpoint`` with, or None when it has all it was asked for.

    Without ``force``, a checkpoint whose wanted policies are all exported
    without errors in every requested format (or in any, when none are
    requested) is left alone; one that lacks some requested formats is exported
    again with the formats it has plus the missing ones, so adding a format
    never drops another.

    Args:
        checkpoint: An RLlib checkpoint directory.
        options: The requested options (``formats`` None: the framework's default).
        force: Replace existing exports with exactly what is requested.
    """
    if force:
        return options
    entries = [e for e in list_exports(checkpoint) if e.checkpoint == checkpoint]
    exports = entries[0].policies if entries else {}
    wanted = options.policies or tuple(exports)
    healthy = bool(exports) and all(
        pid in exports and exports[pid].status == "ok" for pid in wanted
    )
    if not healthy:
        return options
    if options.formats is None:
        return None
    missing = [f for f in options.formats if not all(_has(exports[p].formats, f) for p in wanted)]
    if not missing:
        return None
    existing = [f for p in wanted for f in exports[p].formats]
    return options.replace(formats=tuple(dict.fromkeys([*existing, *options.formats])))


def export_checkpoints(
    plan: list[tuple[Path, ExportOptions]],
) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """Restore each checkpoint with RLlib and export its policies into it.

    Args:
        plan: (RLlib checkpoint directory, what to export into it) pairs.

    Yields:
        (checkpoint, policy id, manifest) for every exported policy.
    """
    if not plan:
        return
    if importlib.util.find_spec("tf_keras") is not None:
        from .tf.setup import ensure_legacy_keras

        ensure_legacy_keras()  # before RLlib imports TensorFlow
    import ray
    from ray.rllib.algorithms.algorithm import Algorithm

    from .checkpoint import export_algorithm

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    for checkpoint, options in plan:
        algo = Algorithm.from_checkpoint(str(checkpoint))
        try:
            for policy_id, manifest in export_algorithm(algo, checkpoint, options).items():
                yield checkpoint, policy_id, manifest
        finally:
            algo.stop()
