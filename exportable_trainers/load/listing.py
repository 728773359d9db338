"""Find the exports under an experiment, trial or checkpoint directory, without Ray."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract.manifest import EXPORT_DIRNAME, MANIFEST_NAME, check_files, read_manifest
from ..exceptions import ExportableTrainersError, ExportNotFoundError

RESULT_FILE = "result.json"  # Tune's per-trial log: one JSON object per reported iteration


@dataclass
class PolicyExport:
    """One policy's export inside a checkpoint.

    Args:
        policy_id: The policy / module id.
        export_dir: Its directory.
        formats: Formats written (and verified, when verification ran).
        status: "ok", "partial", "failed", or "corrupt" (a file no longer
            matches its sha256, or the manifest is unreadable).
        verified: True when every written format passed verification, False
            when one failed, None when verification did not run.
        manifest: The manifest (None when unreadable).
        problem: Why the status is "corrupt", "partial" or "failed".
    """

    policy_id: str
    export_dir: Path
    formats: list[str]
    status: str
    verified: bool | None
    manifest: dict | None = None
    problem: str | None = None


@dataclass
class CheckpointExports:
    """The exports of one checkpoint.

    Args:
        checkpoint: The checkpoint directory.
        training_iteration: Iteration at which it was written.
        env_steps: Env steps sampled until then.
        policies: Export of each policy id.
        metrics: What Tune reported for that iteration (from the trial's
            result.json), when available.
    """

    checkpoint: Path
    training_iteration: int | None
    env_steps: int | None
    policies: dict[str, PolicyExport] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None

    @property
    def policy_ids(self) -> list[str]:
        """Policy ids with an export here."""
        return list(self.policies)

    @property
    def formats(self) -> list[str]:
        """Formats present for every policy of this checkpoint."""
        sets = [set(p.formats) for p in self.policies.values()]
        common = set.intersection(*sets) if sets else set()
        order = [f for p in self.policies.values() for f in p.formats]
        return [f for f in dict.fromkeys(order) if f in common]


def _policy_export(export_dir: Path, check_hashes: bool) -> PolicyExport:
    try:
        manifest = read_manifest(export_dir)
    except ExportableTrainersError as e:
        return PolicyExport(export_dir.name, export_dir, [], "corrupt", None, None, str(e))
    problem = None
    status = manifest.get("status", "ok")
    if check_hashes:
        try:
            check_files(export_dir, manifest)
        except ExportableTrainersError as e:
            status, problem = "corrupt", str(e)
    if problem is None and manifest.get("errors"):
        problem = "; ".join(f"{k}: {v}" for k, v in manifest["errors"].items())
    results = manifest.get("verification") or {}
    verified = None
    if results:
        verified = all(r.get("passed") for r in results.values()) and not any(
            str(v).startswith("verification failed") for v in manifest.get("errors", {}).values()
        )
    return PolicyExport(
        manifest["policy_id"],
        export_dir,
        list(manifest["files"]),
        status,
        verified,
        manifest,
        problem,
    )


def _export_roots(path: Path) -> list[Path]:
    """Every ``<checkpoint>/export`` directory at or below ``path``."""
    if path.name == EXPORT_DIRNAME and path.is_dir():
        return [path]
    roots = []
    for dirpath, dirnames, _ in os.walk(path):
        # Hidden names are staging areas or foreign tooling; never descend.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if EXPORT_DIRNAME in dirnames:
            roots.append(Path(dirpath) / EXPORT_DIRNAME)
            dirnames.remove(EXPORT_DIRNAME)
    return roots


def _tune_results(trial_dir: Path, cache: dict[Path, dict[int, dict]]) -> dict[int, dict]:
    if trial_dir not in cache:
        by_iter: dict[int, dict] = {}
        result_file = trial_dir / RESULT_FILE
        if result_file.is_file():
            with open(result_file, encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line being written by a live trial
                    if isinstance(row, dict) and "training_iteration" in row:
                        by_iter[int(row["training_iteration"])] = row
        cache[trial_dir] = by_iter
    return cache[trial_dir]


def list_exports(path: str | os.PathLike, check_hashes: bool = True) -> list[CheckpointExports]:
    """The exports under ``path``, one entry per checkpoint, sorted by iteration.

    Args:
        path: A Tune experiment directory, a trial directory, a checkpoint
            directory, its ``export`` directory, or one policy's export directory.
        check_hashes: Recompute every file's sha256 and mark mismatches "corrupt".

    Raises:
        ExportNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise ExportNotFoundError(f"{path} does not exist")
    results_cache: dict[Path, dict[int, dict]] = {}
    found = []
    # One policy's export directory (what load_policy also accepts): that policy only.
    single = (path / MANIFEST_NAME).is_file()
    for root in [path.parent] if single else _export_roots(path):
        checkpoint = root.parent
        policies = {}
        for child in sorted(root.iterdir()):
            if (
                (not single or child.name == path.name)
                and child.is_dir()
                and not child.name.startswith(".")
                and (child / MANIFEST_NAME).exists()
            ):
                export = _policy_export(child, check_hashes)
                policies[export.policy_id] = export
        if not policies:
            continue
        manifest = next((p.manifest for p in policies.values() if p.manifest), {}) or {}
        iteration = manifest.get("training_iteration")
        entry = CheckpointExports(
            checkpoint, iteration, manifest.get("env_steps_sampled"), policies
        )
        if iteration is not None:
            entry.metrics = _tune_results(checkpoint.parent, results_cache).get(int(iteration))
        found.append(entry)
    found.sort(
        key=lambda e: (e.training_iteration is None, e.training_iteration or 0, str(e.checkpoint))
    )
    return found
