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


def already_exported(
    checkpoint: Path, formats: tuple[str, ...] | None, policies: tuple[str, ...] | None
) -> bool:
    """Whether every wanted policy of ``checkpoint`` is exported without errors in ``formats``.

    Args:
        checkpoint: An RLlib checkpoint directory.
        formats: Requested format names (aliases allowed), or None for any.
        policies: Requested policy ids, or None for every exported one.
    """
    entries = [e for e in list_exports(checkpoint) if e.checkpoint == checkpoint]
    if not entries:
        return False
    exports = entries[0].policies
    wanted = policies or tuple(exports)
    if not all(pid in exports and exports[pid].status == "ok" for pid in wanted):
        return False
    if formats is None:
        return True
    return all(
        any(
            f in exports[pid].formats
            or (f in ALIASES and set(ALIASES[f].values()) & set(exports[pid].formats))
            for f in formats
        )
        for pid in wanted
    )


def export_checkpoints(
    checkpoints: list[Path], options: ExportOptions
) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """Restore each checkpoint with RLlib and export its policies into it.

    Args:
        checkpoints: RLlib checkpoint directories.
        options: What to export.

    Yields:
        (checkpoint, policy id, manifest) for every exported policy.
    """
    if not checkpoints:
        return
    if importlib.util.find_spec("tf_keras") is not None:
        from .tf.setup import ensure_legacy_keras

        ensure_legacy_keras()  # before RLlib imports TensorFlow
    import ray
    from ray.rllib.algorithms.algorithm import Algorithm

    from .checkpoint import export_algorithm

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    for checkpoint in checkpoints:
        algo = Algorithm.from_checkpoint(str(checkpoint))
        try:
            for policy_id, manifest in export_algorithm(algo, checkpoint, options).items():
                yield checkpoint, policy_id, manifest
        finally:
            algo.stop()
