"""Re-check an export's outputs against its restored checkpoint (needs Ray)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..contract.formats import FORMATS
from ..contract.manifest import read_manifest
from ..contract.spaces import sample_observations
from ..load.loader import find_export_dirs, load_policy
from .options import ExportOptions
from .verification import Tolerances, judge_outputs, sample_state


def verify_against_checkpoint(
    checkpoint: str | os.PathLike, samples: int = 64, atol: float = 1e-5, rtol: float = 1e-5
) -> dict[tuple[str, str], dict[str, Any]]:
    """Restore ``checkpoint`` with RLlib and compare every runnable exported format with it.

    Returns:
        ``{(policy_id, format): comparison}`` (see verification.judge_outputs).
    """
    from ray.rllib.algorithms.algorithm import Algorithm

    from .rllib.selection import collect_target_builders

    checkpoint = Path(checkpoint)
    exports = find_export_dirs(checkpoint)
    manifests = {pid: read_manifest(d) for pid, d in exports.items()}
    if any(m.get("framework") in ("tf", "tf2") for m in manifests.values()):
        from .tf.setup import ensure_legacy_keras

        ensure_legacy_keras()
    algo = Algorithm.from_checkpoint(str(checkpoint))
    try:
        builders = collect_target_builders(algo, tuple(exports))
        results = {}
        for policy_id, export_dir in exports.items():
            target = builders[policy_id]()
            manifest = manifests[policy_id]
            observations = sample_observations(target.observation_space, samples, seed=1)
            state = sample_state(target.state, samples, seed=1)
            reference = target.reference(observations, state)
            for fmt in manifest["files"]:
                if fmt not in FORMATS or FORMATS[fmt].verify == "weights":
                    continue  # weights only: nothing to run
                got = load_policy(export_dir, format=fmt).forward(observations, state=state)
                # The int8 tolerance the export was judged with.
                judged = manifest.get("verification", {}).get(fmt, {})
                tol = Tolerances(atol, rtol, judged.get("int8_atol", ExportOptions().int8_atol))
                results[(policy_id, fmt)] = judge_outputs(
                    fmt, manifest["files"][fmt], manifest, reference, got, tol
                )
        return results
    finally:
        algo.stop()
